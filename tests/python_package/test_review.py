"""What a multiprocessing user meets that a second review found (session
13): each test runs a user's script or call under a real forkd and checks
what the user sees, as multiprocessing's forkserver and spawn show it."""

import os
import subprocess
import sys
import time

import forkd
import pp_targets as t
from conftest import SLOW

T = 30 * SLOW


def _run(daemon, tmp_path, name, text, *args, timeout=None):
    (tmp_path / name).write_text(text)
    return subprocess.run([sys.executable, name] + list(args),
                          env=daemon.env(), capture_output=True, text=True,
                          timeout=timeout or 4 * T, cwd=str(tmp_path))


_MAIN_CLASSES = '''
import forkd
from dataclasses import dataclass

@dataclass
class Result:
    value: int

class MyError(Exception):
    pass

def work(x):
    return Result(x * 2)

def fail():
    raise MyError("from the child")

if __name__ == "__main__":
    p = forkd.Process(target=work, args=(21,))
    p.start()
    print(p.result(30))
    with forkd.Executor() as ex:
        print(ex.submit(work, 1).result(30))
        try:
            ex.submit(fail).result(30)
        except MyError as e:
            print("MyError", e)
'''


def test_result_classes_of_the_main_script(daemon, tmp_path):
    # A script that imports only forkd (not multiprocessing, which aliases
    # __mp_main__ to __main__): a value or exception of a class defined in
    # it comes back as itself.
    r = _run(daemon, tmp_path, "classes.py", _MAIN_CLASSES)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "Result(value=42)", "Result(value=2)", "MyError from the child"], \
        r.stdout + r.stderr


_GRANDCHILDREN = '''
import os, subprocess, sys, time
import forkd

def leave(how):
    if how == "fork":
        pid = os.fork()
        if pid == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            try:
                os.close(6)     # the client's resource tracker: not ours
            except OSError:
                pass
            time.sleep(60)
            os._exit(0)
        return pid
    # exec'd, inheriting every other inheritable fd
    return subprocess.Popen(["sleep", "60"], close_fds=False,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).pid

def quick(x):
    return x

if __name__ == "__main__":
    pids = []
    for how in ("fork", "exec"):
        t0 = time.monotonic()
        p = forkd.Process(target=leave, args=(how,))
        p.start()
        pids.append(p.result(60))
        print(how, p.exitcode, time.monotonic() - t0 < 10)
    with forkd.Executor(1) as ex:
        t0 = time.monotonic()
        f = ex.submit(leave, "fork")
        g = ex.submit(quick, 7)
        pids.append(f.result(60))
        print("executor", g.result(60), time.monotonic() - t0 < 10)
    print(" ".join(map(str, pids)), file=sys.stderr)
'''


def test_result_not_held_back_by_the_targets_children(daemon, tmp_path):
    # A target that leaves a process running (os.fork(), or a program run
    # with close_fds=False): its result comes when it returns, not when
    # that process ends (the result pipe was inherited, and result() and
    # the Executor's thread waited 30 s for its end).
    r = _run(daemon, tmp_path, "grandchildren.py", _GRANDCHILDREN)
    for pid in r.stderr.split()[-3:]:
        try:
            os.kill(int(pid), 9)
        except (ValueError, OSError):
            pass
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "fork 0 True", "exec 0 True", "executor 7 True"], r.stdout + r.stderr


_SHARED_MEMORY = '''
import sys
from multiprocessing import shared_memory
import forkd

def attach(name):
    s = shared_memory.SharedMemory(name=name)
    s.buf[0] += 1
    s.close()

def create():
    s = shared_memory.SharedMemory(create=True, size=16)
    s.buf[0] = 99
    s.close()           # not unlinked: the parent reads it, then unlinks
    return s.name

if __name__ == "__main__":
    s = shared_memory.SharedMemory(create=True, size=16)
    for i in range(3):
        p = forkd.Process(target=attach, args=(s.name,))
        p.start()
        p.join(60)
        print(p.exitcode, s.buf[0])
    s.close()
    s.unlink()
    p = forkd.Process(target=create)
    p.start()
    name = p.result(60)
    s = shared_memory.SharedMemory(name=name)
    print("created", s.buf[0])
    s.close()
    s.unlink()
'''


def test_shared_memory_outlives_the_child(daemon, tmp_path):
    # A segment a child attaches to, or creates and leaves, lives until the
    # client is done with it: the child registers it with the client's
    # resource tracker (as a spawned child does), not with one of its own
    # that unlinked it when the child ended.
    r = _run(daemon, tmp_path, "shm.py", _SHARED_MEMORY)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["0 1", "0 2", "0 3", "created 99"], \
        r.stdout + r.stderr
    assert "leaked" not in r.stderr and "Traceback" not in r.stderr, r.stderr


_DAEMONS_AT_EXIT = '''
import os, sys, time
import forkd

def mark(path, t):
    time.sleep(t)
    open(path, "w").write("alive")

if __name__ == "__main__":
    d = sys.argv[1]
    forkd.Process(target=mark, args=(os.path.join(d, "daemon"), 1.5),
                  daemon=True).start()
    forkd.Process(target=mark, args=(os.path.join(d, "other"), 3)).start()
    if sys.argv[2] == "fork" and os.fork() == 0:
        time.sleep(5)   # holds a copy of the connection meanwhile
        os._exit(0)
'''


def test_daemon_children_terminated_at_exit(daemon, tmp_path):
    # At exit the daemonic child is terminated, then the other joined, as
    # multiprocessing's exit handler does: the daemonic one used to run on
    # (and finish) while the other was joined, or while a process this
    # one forked kept the connection open.
    for how in ("plain", "fork"):
        out = tmp_path / how
        out.mkdir()
        r = _run(daemon, tmp_path, "daemons.py", _DAEMONS_AT_EXIT, str(out),
                 how)
        assert r.returncode == 0, r.stdout + r.stderr
        # run() returned after the other child's 3 s: the daemonic one
        # would have written its file at 1.5 s.
        time.sleep(0.5 * SLOW)
        assert sorted(os.listdir(out)) == ["other"], how


def _private_forkd():
    from conftest import Forkd, _paths
    return Forkd("path=%s" % _paths()).start()


def test_forkd_gone_while_children_run():
    # forkd killed while two children run: join() waits for each child's
    # end (its pidfd) and reports 255, as multiprocessing's forkserver
    # reports a child whose status it lost; the result still comes (it
    # is the child's own pipe), and terminate() reaches the child. Every
    # accessor used to raise ConnectionResetError, then
    # ConnectionRefusedError, for good.
    import signal as sig
    d = _private_forkd()
    try:
        c = d.connect()
        p = forkd.Process(target=t.nap, args=(1.0,), connection=c)
        q = forkd.Process(target=t.forever, connection=c)
        p.start()
        q.start()
        d.proc.send_signal(sig.SIGKILL)
        d.proc.wait()
        p.join(T)
        assert p.exitcode == 255 and not p.is_alive()
        assert p.result(T) == 1.0
        assert q.is_alive()
        q.terminate()
        q.join(T)
        assert q.exitcode == 255 and not q.is_alive()
        import pytest
        with pytest.raises(forkd.ProcessError, match="forkd was gone"):
            q.result()
        assert forkd.active_children() == [] or \
            all(x not in forkd.active_children() for x in (p, q))
    finally:
        d.cleanup()


def test_stopped_forkd_does_not_hold_up_is_alive_and_join():
    # forkd stopped (SIGSTOP) after a child ended: is_alive() is False at
    # once (the pidfd says so), join(0.1) and exitcode wait about a second
    # for forkd's word, not 36 s; once forkd runs again, the status comes.
    import signal as sig
    d = _private_forkd()
    try:
        c = d.connect()
        p = forkd.Process(target=t.nap, args=(0.2,), connection=c)
        p.start()
        d.proc.send_signal(sig.SIGSTOP)
        try:
            time.sleep(1.0)
            t0 = time.monotonic()
            assert not p.is_alive()
            p.join(0.1)
            assert p.exitcode is None
            assert time.monotonic() - t0 < 5 * SLOW
        finally:
            d.proc.send_signal(sig.SIGCONT)
        p.join(T)
        assert p.exitcode == 0 and p.result(T) == 0.2
    finally:
        d.cleanup()


def test_spawn_after_forkd_closed_an_idle_connection(tmp_path):
    # forkd closes idle connections (idle_timeout_ms): the next spawn, on
    # the default connection or on one given, goes on a new connection,
    # where it used to fail with ConnectionResetError (nothing spawned).
    from conftest import Forkd, _paths
    conf = tmp_path / "forkd.conf"
    conf.write_text("[limits]\nidle_timeout_ms = 300\n")
    d = Forkd("path=%s" % _paths())
    d.cmd += ["-c", str(conf)]
    d = d.start()
    try:
        c = d.connect()
        for conn in (None, c):
            p = forkd.Process(target=t.add, args=(1, 2), connection=conn,
                              env={"FORKD_SOCKET": d.sock,
                                   "FORKD_KEY_FILE": d.keyfile})
            os.environ["FORKD_SOCKET"] = d.sock
            os.environ["FORKD_KEY_FILE"] = d.keyfile
            p.start()
            assert p.result(T) == 3
            time.sleep(1.0 * SLOW)      # forkd closes the connection
            q = forkd.Process(target=t.add, args=(2, 3), connection=conn)
            q.start()
            assert q.result(T) == 5
    finally:
        os.environ.pop("FORKD_SOCKET", None)
        os.environ.pop("FORKD_KEY_FILE", None)
        d.cleanup()


def test_connection_used_in_a_forked_child():
    # A connection made before os.fork(), used in the child: a clear error
    # there, and the parent's connection still works (it used to be broken
    # for both: frames out of sequence).
    d = _private_forkd()
    try:
        c = d.connect()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                forkd.Process(target=t.add, args=(1, 2), connection=c).start()
                msg = b"started"
            except ValueError as e:
                msg = str(e).encode()
            os.write(w, msg)
            os._exit(0)
        os.close(w)
        msg = os.read(r, 1000).decode()
        os.close(r)
        os.waitpid(pid, 0)
        assert "needs its own" in msg, msg
        p = forkd.Process(target=t.add, args=(3, 4), connection=c)
        p.start()
        assert p.result(T) == 7
        c.ping()
    finally:
        d.cleanup()


_INTERPRETER_SETTINGS = '''
import os, signal, sys, warnings
import forkd

def child():
    print(sys.stdout.encoding, sys.stdout.errors, "\\u00e9")
    try:
        warnings.warn("old", DeprecationWarning)
        print("no raise")
    except DeprecationWarning:
        print("raised")
    print("before the kill")        # unbuffered: out before the kill
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    p = forkd.Process(target=child)
    p.start()
    p.join(60)
    print("exitcode", p.exitcode)
'''


def test_interpreter_settings_reach_the_child(daemon, tmp_path):
    # PYTHONUNBUFFERED, PYTHONIOENCODING and -W, in the client: the child
    # has them, as a spawned one (its output was buffered and lost at the
    # kill, its encoding forkd's, its warnings filters forkd's).
    env = daemon.env()
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "ascii:backslashreplace"
    (tmp_path / "settings.py").write_text(_INTERPRETER_SETTINGS)
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning",
                        "settings.py"], env=env, capture_output=True,
                       timeout=4 * T, cwd=str(tmp_path))
    out = r.stdout.decode("ascii").splitlines()
    assert r.returncode == 0, r
    assert out == ["ascii backslashreplace \\xe9", "raised",
                   "before the kill", "exitcode -9"], out


def test_bad_spawn_option_values_refused_at_construction():
    # A bad value is a TypeError or ValueError naming the option, from
    # Process() and Executor() (it was a KeyError, AttributeError or
    # TypeError about something else, from start(), or in every future).
    import pytest
    cases = [({"env": "x"}, TypeError, "env must be a mapping"),
             ({"env": ["A=1"]}, TypeError, "env must be a mapping"),
             ({"env": {"A=B": "1"}}, ValueError, "not a variable name"),
             ({"stdout": "bad"}, TypeError, "stdout must be a file"),
             ({"stderr": -3}, ValueError, "forkd.DEVNULL"),
             ({"pgroup": "x"}, ValueError, "pgroup must be one of"),
             ({"namespaces": ["bogus"]}, ValueError, "unknown namespace"),
             ({"namespaces": 1.5}, TypeError, "namespaces must be"),
             ({"cpus": "0"}, TypeError, "cpus must be a sequence of ints"),
             ({"groups": [1, "2"]}, TypeError, "groups must be a sequence"),
             ({"nice": "5"}, TypeError, "nice must be an int"),
             ({"umask": 0.5}, TypeError, "umask must be an int"),
             ({"rlimits": [1]}, TypeError, "rlimits must be a mapping"),
             ({"rlimits": {"nofile": "x"}}, ValueError, "rlimits"),
             ({"forkd_name": 5}, TypeError, "forkd_name must be a str"),
             ({"timeout": -1}, ValueError, "positive"),
             ({"connection": "/tmp/sock"}, TypeError, "forkd.Connection")]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            forkd.Process(target=t.add, **kw)
        if "connection" not in kw:
            with pytest.raises(exc, match=msg):
                forkd.Executor(1, **kw)
    # Good values still pass.
    forkd.Process(target=t.add, namespaces="pid", cpus=(0,), groups=[],
                  rlimits={"nofile": (64, None)}, stdout=forkd.DEVNULL)


def test_result_says_the_timeout_fired(conn):
    # A child stopped by forkd at its timeout: ProcessError says so (it
    # said only "killed by signal 15").
    import pytest
    p = forkd.Process(target=t.forever, timeout=0.3, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == -15 and p.exit_status.timed_out
    with pytest.raises(forkd.ProcessError, match="reached its timeout and "
                       "was killed by signal 15"):
        p.result()


_PKG_APP = '''
import sys
import forkd
from .helper import K

def work(x):
    return x + K

if __name__ == "__main__":
    with forkd.Executor(2) as ex:
        print(list(ex.map(work, [1, 2])))
    p = forkd.Process(target=work, args=(5,))
    p.start()
    print(p.result(60), sys.argv[1:])
'''


def test_main_module_run_with_dash_m(daemon, tmp_path):
    # python -m pkg.app, with relative imports: the child imports the main
    # module by name, as multiprocessing's spawn does (by path, its
    # relative import failed in every task).
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("K = 10\n")
    (pkg / "app.py").write_text(_PKG_APP)
    r = subprocess.run([sys.executable, "-m", "pkg.app", "x"],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["[11, 12]", "15 ['x']"], \
        r.stdout + r.stderr


def test_join_timeout_values(conn):
    # As multiprocessing's: a negative or -inf timeout returns at once, an
    # infinite one waits; a string is a TypeError (it was a ValueError
    # quoting it a thousand times, and -inf an OverflowError).
    import pytest
    p = forkd.Process(target=t.nap, args=(0.3,), connection=conn)
    p.start()
    for bad in ("x", b"1", [1]):
        with pytest.raises(TypeError, match="timeout must be a number"):
            p.join(bad)
    with pytest.raises(ValueError, match="NaN"):
        p.join(float("nan"))
    p.join(float("-inf"))
    p.join(-1)
    assert p.exitcode is None
    with pytest.raises(TypeError):
        p.result("5")
    p.join(float("inf"))
    assert p.exitcode == 0
    assert forkd.wait([p], timeout=float("-inf"))[0] == {p}
    with pytest.raises(TypeError, match="timeout must be a number"):
        forkd.wait([p], timeout="1")


def test_forkd_without_the_python_module_says_so(tmp_path):
    # A forkd started without python.so: the SpawnError says what to do,
    # not only "no module entry 'python:call'".
    import pytest
    from conftest import MODULE, Forkd, _paths
    pi = os.path.join(os.path.dirname(MODULE), "pi.so")
    d = Forkd("path=%s" % _paths())
    d.cmd[d.cmd.index("-m") + 1] = pi
    d.start()
    try:
        p = forkd.Process(target=t.add, args=(1, 2), connection=d.connect())
        with pytest.raises(forkd.SpawnError, match="python module: start "
                           "forkd with -m"):
            p.start()
    finally:
        d.cleanup()


def test_connect_says_which_paths_were_defaults(daemon, monkeypatch):
    # Nothing given nor set: the error says the path was the default and
    # which variable names another.
    import pytest
    monkeypatch.delenv("FORKD_SOCKET", raising=False)
    monkeypatch.delenv("FORKD_KEY_FILE", raising=False)
    if os.path.exists("/var/lib/forkd/authkey"):
        pytest.skip("a forkd is installed here")
    with pytest.raises(OSError, match="default: set FORKD_KEY_FILE"):
        forkd.connect()
    monkeypatch.setenv("FORKD_KEY_FILE", daemon.keyfile)
    if not os.path.exists("/run/forkd/forkd.sock"):
        with pytest.raises(OSError, match="default: set FORKD_SOCKET"):
            forkd.connect()
    # Given: no such note.
    with pytest.raises(OSError) as ei:
        forkd.connect(daemon.sock + ".none")
    assert "default" not in str(ei.value)


def test_connect_to_a_socket_of_another_kind(tmp_path, daemon):
    # A stream socket where forkd's should be: the error says it is not
    # forkd's (it said only "Protocol wrong type for socket").
    import pytest
    import socket
    path = str(tmp_path / "stream.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    try:
        with pytest.raises(OSError, match="not forkd's socket"):
            forkd.connect(path, daemon.keyfile)
    finally:
        s.close()


def test_main_module_refused_under_allow(restricted, tmp_path):
    # Under allow= without a __main__ pattern, a target of a main module
    # run with -m is refused, as one of a main script is (before the
    # module is imported).
    pkg = tmp_path / "pkg2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text(
        "import forkd\n"
        "def work():\n    return 1\n"
        "if __name__ == '__main__':\n"
        "    p = forkd.Process(target=work)\n"
        "    p.start()\n"
        "    try:\n        p.result(60)\n"
        "    except PermissionError as e:\n        print('refused', e)\n")
    r = subprocess.run([sys.executable, "-m", "pkg2.app"],
                       env=restricted.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("refused") and "not allowed" in r.stdout, \
        r.stdout + r.stderr


def test_warnoption_imports_nothing_under_allow(daemon, restricted,
                                                tmp_path, monkeypatch):
    # A -W option's category is imported by name in the child: without
    # allow= as the interpreter would; under allow= the option is ignored
    # (a client must not make the child import what it names).
    monkeypatch.setattr(sys, "warnoptions", ["ignore::pp_marker.Marker"])
    for d, imported in ((daemon, True), (restricted, False)):
        mark = tmp_path / ("mark-%s" % imported)
        with d.connect() as c:
            p = forkd.Process(target=t.echo, args=(1,), connection=c,
                              env={"PP_MARKER": str(mark)})
            p.start()
            assert p.result(T) == ((1,), {})
        assert mark.exists() == imported


def test_terminate_after_forkd_restarted():
    # A restarted forkd does not know the child: terminate() goes through
    # the child's pidfd (it did nothing: "no child with pid N" was taken
    # for "already ended").
    d = _private_forkd()
    try:
        q = forkd.Process(target=t.forever, connection=d.connect())
        q.start()
        assert d.stop() == 0
        d.start()
        assert q.is_alive()
        q.terminate()
        q.join(T)
        assert q.exitcode == 255 and not q.is_alive()
    finally:
        d.cleanup()


_NO_MULTIPROCESSING = '''
import sys
import forkd

def key():
    import multiprocessing
    return bytes(multiprocessing.current_process().authkey)

if __name__ == "__main__":
    keys = []
    for i in range(3):
        p = forkd.Process(target=key)
        p.start()
        keys.append(p.result(60))
    print(len(set(keys)), "multiprocessing" in sys.modules)
'''


def test_a_client_without_multiprocessing_stays_so(daemon, tmp_path):
    # A client that has not loaded multiprocessing sends no key (each
    # child gets a random one) and does not load it by starting children
    # (the first start() loaded it for the resource tracker, and later
    # children got the client's key).
    r = _run(daemon, tmp_path, "nomp.py", _NO_MULTIPROCESSING)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["3", "False"], r.stdout + r.stderr


def test_numpy_numbers_as_options_and_timeouts(conn):
    # Integers and numbers that are not int or float (numpy's) work as
    # spawn options and timeouts, as before and as multiprocessing's
    # join() takes them.
    import numpy
    p = forkd.Process(target=t.add, args=(1, 2), connection=conn,
                      umask=numpy.int32(0o22), cpus=numpy.arange(1),
                      timeout=numpy.float32(30))
    p.start()
    p.join(numpy.int64(30))
    assert p.result(numpy.float32(30)) == 3


_GRANDCHILD_RETURNS = '''
import os
import forkd

def forks(path):
    pid = os.fork()
    if pid == 0:
        global log
        log = open(path, "w")       # may be fd 4 again
        return "from the grandchild"
    os.waitpid(pid, 0)
    return "from the child"

if __name__ == "__main__":
    import sys
    p = forkd.Process(target=forks, args=(sys.argv[1],))
    p.start()
    print(p.result(60))
    print(repr(open(sys.argv[1], "rb").read()))
'''


def test_forked_grandchild_writes_no_result(daemon, tmp_path):
    # A process the target forks, returning through it, writes no result:
    # fd 4 may be another file of its own by then (the pickle went into
    # that file).
    r = _run(daemon, tmp_path, "grand.py", _GRANDCHILD_RETURNS,
             str(tmp_path / "log"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["from the child", "b''"], \
        r.stdout + r.stderr


def test_resource_tracker_fd_ignored_under_allow(restricted):
    # Under allow=, a client's fd 6 is not taken for a resource tracker: an
    # allowed target's segment is cleaned up by the child's own tracker,
    # where /dev/null as fd 6 left it in /dev/shm for good.
    import pickle
    with restricted.connect() as c:
        r, w = os.pipe()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            c._spawn("python:call", ["python:call", "pp_targets:shm_leave",
                                     "--resource-tracker"],
                     fds=[(w, 4), (null, 6)])
        finally:
            os.close(w)
            os.close(null)
        data = b""
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            data += b
        os.close(r)
    name = pickle.loads(data)[1]
    path = "/dev/shm/" + name.lstrip("/")
    deadline = time.monotonic() + T
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not os.path.exists(path)
    if not gone:
        os.unlink(path)
    assert gone


def test_a_stopped_forkd_holds_no_other_thread_up():
    # forkd stopped; one thread join()s an ended child (no timeout), and
    # another asks is_alive() and join(0.2) of another ended child: each
    # waits about a second, not as long as forkd stays stopped (the first
    # held the connection's lock all that time).
    import signal as sig
    import threading
    d = _private_forkd()
    try:
        c = d.connect()
        p1 = forkd.Process(target=t.nap, args=(0.2,), connection=c)
        p2 = forkd.Process(target=t.nap, args=(0.3,), connection=c)
        p1.start()
        p2.start()
        d.proc.send_signal(sig.SIGSTOP)
        try:
            time.sleep(1.0)
            threading.Thread(target=p1.join, daemon=True).start()
            time.sleep(0.5)
            t0 = time.monotonic()
            assert not p2.is_alive()
            p2.join(0.2)
            assert p2.exitcode is None
            assert time.monotonic() - t0 < 4 * SLOW
        finally:
            d.proc.send_signal(sig.SIGCONT)
        p1.join(T)
        p2.join(T)
        assert p1.exitcode == 0 and p2.exitcode == 0
    finally:
        d.cleanup()
