"""Fixes from session 14's reviews of the package, as a new user meets
it: a virtual environment's packages, multiprocessing's positional
arguments, the key file's modes."""

import os
import subprocess
import sys
import time

import pytest

import forkd
import pp_targets as t
from conftest import SLOW

T = 30 * SLOW

_VENV_APP = '''
import sys
import time
import venvmod              # only in the virtual environment

import forkd


def f():
    return venvmod.hello(), sys.prefix == sys.base_prefix


if __name__ == "__main__":
    p = forkd.Process(target=f)
    p.start()
    print(p.result(%(T)s))
    p.join()
'''


def test_virtual_environment_packages_reach_the_child(daemon, tmp_path):
    # A script run with a venv's python imports what the venv installed;
    # so must its children, as multiprocessing's spawn children do. The
    # venv's lib/pythonX.Y (its platstdlib) was taken for the standard
    # library, and its site-packages was never sent.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(venv)], check=True, timeout=T)
    site = venv / "lib" / ("python%d.%d" % sys.version_info[:2]) / \
        "site-packages"
    (site / "venvmod.py").write_text("def hello():\n    return 'venv'\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_text(_VENV_APP % {"T": T})
    r = subprocess.run([str(venv / "bin" / "python"), str(app / "main.py")],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T)
    assert r.returncode == 0, r.stdout + r.stderr
    # forkd's interpreter is the base one, as a forkserver's would be.
    assert r.stdout.strip() == "('venv', True)", r.stdout + r.stderr


def test_multiprocessing_positional_order_explained(conn):
    # multiprocessing.Process(group, target, name, args): Process(None, f)
    # failed with "'function' object is not iterable".
    with pytest.raises(TypeError, match="takes the target first"):
        forkd.Process(None, t.add, connection=conn)
    with pytest.raises(TypeError, match="takes the target first"):
        forkd.Process(None, t.add, "worker", (1, 2), connection=conn)
    p = forkd.Process(t.add, (1, 2), connection=conn)
    p.start()
    assert p.result(T) == 3
    p.join()


def test_executor_positional_arguments_as_process_pool_executor(conn):
    # ProcessPoolExecutor(max_workers, mp_context, initializer, initargs).
    import test_executor as te
    with forkd.Executor(2, None, te.set_mark, ("init",),
                        connection=conn) as ex:
        assert ex.submit(te.get_mark, 1).result(T) == ("init", 1)


def test_key_file_modes_checked_as_forkctl(daemon, tmp_path):
    # A key others may read is refused, as forkctl and forkd refuse it:
    # the package connected with it.
    with open(daemon.keyfile, "rb") as f:
        key = f.read()
    loose = tmp_path / "key"
    loose.write_bytes(key)
    for mode in (0o644, 0o620):
        os.chmod(loose, mode)
        with pytest.raises(PermissionError, match="too open"):
            forkd.connect(daemon.sock, str(loose))
    os.chmod(loose, 0o640)      # a trusted group may read it
    with forkd.connect(daemon.sock, str(loose)) as c:
        c.ping()


def test_two_threads_join_one_process(conn):
    # The first waiter to collect the exit took forkd's event; a second
    # one waited for it for ever (join(), result(), wait(), exit).
    import threading
    for _ in range(3):
        p = forkd.Process(target=t.nap, args=(0.3,), connection=conn)
        p.start()
        seen = []

        def waiter(how):
            if how == "join":
                p.join()
            elif how == "wait":
                forkd.wait([p])
            else:
                while p.is_alive():
                    time.sleep(0.001)
            seen.append(p.exitcode)

        ts = [threading.Thread(target=waiter, args=(how,), daemon=True)
              for how in ("join", "join", "wait", "poll")]
        for th in ts:
            th.start()
        for th in ts:
            th.join(T)
        assert seen == [0, 0, 0, 0], seen
        p.close()


_WATCHERS = '''
import threading
import forkd
import pp_targets as t


def watch(p):
    p.join()
    print("watched", p.exitcode, flush=True)


if __name__ == "__main__":
    for i in range(3):
        p = forkd.Process(target=t.nap, args=(0.5,))
        p.start()
        threading.Thread(target=watch, args=(p,), daemon=True).start()
    print("main done", flush=True)
'''


def test_exit_with_threads_joining_the_children(daemon, tmp_path):
    # Daemon threads that join their processes raced the exit handler's
    # joins, which then waited for the events the threads had taken.
    (tmp_path / "watchers.py").write_text(_WATCHERS)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, str(tmp_path / "watchers.py")],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "main done" in r.stdout
    assert time.monotonic() - t0 < 10 * SLOW, r.stdout + r.stderr


def test_dropped_processes_are_let_go(conn):
    # Started and dropped without join(): each was kept in the package's
    # list of children with its pidfd for good (300 of them held 300
    # fds); multiprocessing's start() lets go of the ended ones.
    import gc

    def fds():
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    for _ in range(60):
        forkd.Process(target=t.add, args=(1, 2), connection=conn).start()
    time.sleep(1)
    p = forkd.Process(target=t.add, args=(1, 2), connection=conn)
    p.start()
    p.join()
    p.close()
    gc.collect()
    assert fds() - before < 15, fds() - before
    assert forkd.active_children() == []


_EXECUTOR_NO_GUARD = '''
import forkd


def sq(x):
    return x * x


with forkd.Executor(1) as ex:
    print("result", ex.submit(sq, 3).result())
'''


def test_executor_in_script_without_main_guard(daemon, tmp_path):
    # As forkd.Process (and ProcessPoolExecutor, whose worker says it):
    # the child, importing the script, refuses to submit with the
    # bootstrapping error; it said its __main__ had no file.
    (tmp_path / "noguard.py").write_text(_EXECUTOR_NO_GUARD)
    r = subprocess.run([sys.executable, "noguard.py"], env=daemon.env(),
                       capture_output=True, text=True, timeout=4 * T,
                       cwd=str(tmp_path))
    assert "bootstrapping phase" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "has no file" not in r.stdout + r.stderr, r.stdout + r.stderr


_ATEXIT_ORDER = '''
import atexit
import os
import shutil
import sys
import time

import forkd


def write(d, i):
    time.sleep(0.3)
    with open(os.path.join(d, "out%d" % i), "w") as f:
        f.write("x")


def removed(d):
    print("files at exit:", sorted(os.listdir(d)), flush=True)
    shutil.rmtree(d)


if __name__ == "__main__":
    d = sys.argv[1]
    atexit.register(removed, d)
    ex = forkd.Executor(2)
    for i in range(2):
        ex.submit(write, d, i)
    forkd.Process(target=write, args=(d, 9)).start()
'''


def test_exit_handlers_run_after_the_children(daemon, tmp_path):
    # A script's atexit handler registered before its first start() ran
    # before forkd's joins and the Executor's shutdown (atexit runs the
    # last registered first): it removed what the children still wrote.
    # As multiprocessing and concurrent.futures, the children finish first.
    (tmp_path / "order.py").write_text(_ATEXIT_ORDER)
    d = tmp_path / "d"
    d.mkdir()
    r = subprocess.run([sys.executable, "order.py", str(d)],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "files at exit: ['out0', 'out1', 'out9']" in r.stdout, \
        r.stdout + r.stderr


def test_interrupted_start_keeps_track_of_its_child(conn):
    # A KeyboardInterrupt raised as the spawn returned (the signal came
    # while it waited for forkd's reply) lost the child: running, never
    # joined, never interrupted. Now start() raises, but the process is
    # started, tracked, and has been passed the interrupt.
    import random
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    caught = []
    try:
        for i in range(60):
            p = forkd.Process(target=t.nap, args=(20,), connection=conn)
            signal.setitimer(signal.ITIMER_REAL,
                             random.uniform(0.0001, 0.004))
            try:
                p.start()
                signal.setitimer(signal.ITIMER_REAL, 0)
            except KeyboardInterrupt:
                caught.append(p)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if p.pid is not None and p not in caught:
                p.kill()
                p.join()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    interrupted = [p for p in caught if p.pid is not None]
    assert caught and interrupted, (len(caught), len(interrupted))
    # Tracked: known to active_children() until it ends, and joined.
    # (The interrupt passed on ends it unless it came before the child
    # had set up its handlers: not asserted.)
    alive = set(forkd.active_children())
    for p in interrupted:
        assert p in alive or p.exitcode is not None, p
        p.kill()
        p.join(T)
        assert p.exitcode is not None, p
    live = {c["pid"] for c in conn.list()}
    assert not live & {p.pid for p in interrupted}
    assert forkd.active_children() == []


def test_spawn_errors_are_the_builtin_oserror_subclasses(conn):
    # OSError(ENOENT, ...) is a FileNotFoundError, OSError(EAGAIN, ...) a
    # BlockingIOError; forkd's SpawnError of those codes was neither.
    import errno
    import pickle
    p = forkd.Process(target=t.add, args=(1, 2), cwd="/nonexistent/dir",
                      connection=conn)
    with pytest.raises(FileNotFoundError) as e:
        p.start()
    assert isinstance(e.value, forkd.SpawnError) and e.value.step == "chdir"
    from forkd._errors import spawn_error
    again = spawn_error(OSError(errno.EAGAIN, "too many children for uid "
                                "0 (limit 4, max_children_per_uid)"))
    assert isinstance(again, BlockingIOError) and \
        isinstance(again, forkd.SpawnError)
    back = pickle.loads(pickle.dumps(again))
    assert type(back) is type(again) and back.errno == errno.EAGAIN
    assert type(spawn_error(OSError(errno.EINVAL, "x"))) is forkd.SpawnError


def test_executor_copied_by_fork_refuses_work(conn):
    # In an os.fork() child the executor's thread does not exist: a task
    # submitted there never ran (its future never completed).
    with forkd.Executor(1, connection=conn) as ex:
        assert ex.submit(t.add, 1, 2).result(T) == 3
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                ex.submit(t.add, 1, 2)
                os.write(w, b"accepted")
            except RuntimeError as e:
                os.write(w, str(e).encode())
            finally:
                os._exit(0)
        os.close(w)
        said = os.read(r, 1000).decode()
        os.close(r)
        os.waitpid(pid, 0)
        assert "belongs to process %d" % os.getpid() in said, said
        assert ex.submit(t.add, 2, 3).result(T) == 5
