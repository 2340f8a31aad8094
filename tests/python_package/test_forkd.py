"""The forkd package against a real forkd with the python module (numpy
preloaded): every API call, and what goes wrong, each with forkd still
serving afterwards (the conn fixture checks)."""

import asyncio
import concurrent.futures
import copy
import errno
import os
import pickle
import pydoc
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from multiprocessing.connection import wait as mp_wait

import pytest

import forkd
import pp_targets as t
from conftest import EXAMPLES, SLOW

T = 30 * SLOW           # generous bound for anything that should be quick


# ---- connect ----------------------------------------------------------------

def test_connect_ping_status_list(daemon):
    with forkd.connect(daemon.sock, daemon.keyfile) as c:
        c.ping()
        assert os.fstat(c.fileno())
        assert "open" in repr(c)
        st = c.status()
        assert st["pid"] == daemon.proc.pid
        mods = {m["name"]: m["entries"] for m in st["modules"]}
        assert "call" in mods["python"] and "main" in mods["python"]
        p = forkd.Process(target=t.forever, connection=c)
        p.start()
        assert p.pid in [r["pid"] for r in c.list()]
        p.kill()
        p.join(T)
        assert p.exitcode == -signal.SIGKILL
    assert c.closed
    with pytest.raises(ValueError):
        c.ping()


def test_connect_from_environment(default_env):
    c = forkd.connect()
    c.ping()
    c.close()


def test_connect_no_socket(tmp_path, daemon):
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(FileNotFoundError) as ei:
        forkd.connect(path, daemon.keyfile)
    assert ei.value.filename == path and ei.value.step == "connect"
    assert "is forkd running?" in str(ei.value)


def test_connect_refused(tmp_path, daemon):
    path = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)            # bound, never listening: ECONNREFUSED
    try:
        with pytest.raises(ConnectionRefusedError) as ei:
            forkd.connect(path, daemon.keyfile)
        assert ei.value.filename == path and ei.value.step == "connect"
    finally:
        s.close()


def test_connect_wrong_key(tmp_path, daemon):
    key = tmp_path / "other"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    with pytest.raises(OSError) as ei:
        forkd.connect(daemon.sock, str(key))
    assert ei.value.errno == errno.EKEYREJECTED
    assert ei.value.step == "handshake"


def test_connect_missing_key(tmp_path, daemon):
    path = str(tmp_path / "nokey")
    with pytest.raises(FileNotFoundError) as ei:
        forkd.connect(daemon.sock, path)
    assert ei.value.filename == path and ei.value.step == "key"


def test_connect_not_a_socket(tmp_path, daemon):
    with pytest.raises(OSError) as ei:
        forkd.connect(str(tmp_path), daemon.keyfile)
    assert ei.value.errno == errno.ENOTSOCK and ei.value.step == "socket"


# ---- Process ----------------------------------------------------------------

def test_process_lifecycle(conn):
    p = forkd.Process(target=t.add, args=(42, 43), kwargs={"c": 44},
                      name="adder", connection=conn)
    assert p.name == "adder" and p.pid is None and p.exitcode is None
    assert not p.is_alive() and not p.daemon
    assert "initial" in repr(p)
    p.start()
    assert isinstance(p.pid, int) and p.pid > 0 and p.ident == p.pid
    assert p.forkd_name
    p.join(T)
    assert p.exitcode == 0 and not p.is_alive()
    assert p.result() == 129
    assert p.result() == 129            # again: same answer
    assert "stopped exitcode=0" in repr(p)
    st = p.exit_status
    assert st.pid == p.pid and st.exitcode == 0 and not st.timed_out
    with pytest.raises(AssertionError):
        p.start()
    p.close()
    assert "closed" in repr(p) and "pid=" not in repr(p)
    for what in ("is_alive", "sentinel", "pid", "exitcode"):
        with pytest.raises(ValueError, match="closed"):
            x = getattr(p, what)
            x() if callable(x) else x
    with pytest.raises(ValueError, match="closed"):
        forkd.wait([p])


def test_multiprocessing_details(conn, capfd):
    # Names, repr and arguments as multiprocessing has them.
    class Mine(forkd.Process):
        pass
    assert Mine(target=t.getpid).name.startswith("Mine-")
    p = forkd.Process(group=None, target=t.forever, connection=conn)
    with pytest.raises(AssertionError, match="group"):
        forkd.Process(group="g", target=t.getpid)
    with pytest.raises(ValueError, match="not started"):
        forkd.wait([p])
    p.start()
    p.terminate()
    p.join(T)
    assert p.exitcode == -signal.SIGTERM
    assert "exitcode=-SIGTERM" in repr(p)
    # A target that raises: its traceback on the child's stderr after
    # "Process NAME:", as multiprocessing prints it; result() has it too.
    capfd.readouterr()
    p = forkd.Process(target=t.boom, args=("printed",), name="loud",
                      connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 1
    err = capfd.readouterr().err
    assert err.startswith("Process loud:\nTraceback") and \
        "ValueError: printed" in err, err
    # An Executor's task prints nothing (concurrent.futures does not).
    with forkd.Executor(1, connection=conn) as ex:
        with pytest.raises(ValueError, match="quiet"):
            ex.submit(t.boom, "quiet").result(T)
    assert "quiet" not in capfd.readouterr().err
    # A return value that does not pickle: result() says why, but the
    # target returned (exit 0, nothing printed), as multiprocessing,
    # which drops return values, has it.
    p = forkd.Process(target=t.return_lock, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 0
    with pytest.raises(TypeError, match="lock"):
        p.result()
    assert "Traceback" not in capfd.readouterr().err


def test_daemonic_child_has_no_children(conn):
    p = forkd.Process(target=t.nested, args=(1,), daemon=True,
                      connection=conn)
    p.start()
    with pytest.raises(AssertionError, match="daemonic processes"):
        p.result(T)


def test_queue_argument_says_what_to_use(conn):
    import multiprocessing as mp
    with pytest.raises(pickle.PicklingError, match="Manager"):
        forkd.Process(target=t.echo, args=(mp.Queue(),),
                      connection=conn).start()


def test_default_names_and_default_connection(default_env):
    a = forkd.Process(target=t.getpid)
    b = forkd.Process(target=t.getpid)
    assert a.name.startswith("Process-") and a.name != b.name
    a.start()
    b.start()
    assert a.result(T) == a.pid and b.result(T) == b.pid


def test_preloaded_numpy_and_args(conn):
    p = forkd.Process(target=t.numpy_loaded, connection=conn)
    p.start()
    assert p.result(T) is True
    p = forkd.Process(target=t.echo, args=(1, "two", [3]),
                      kwargs={"k": {"v": None}}, connection=conn)
    p.start()
    assert p.result(T) == ((1, "two", [3]), {"k": {"v": None}})


def test_class_and_static_method_targets(conn):
    p = forkd.Process(target=t.Greeter.shout, args=("hi",), connection=conn)
    p.start()
    assert p.result(T) == "HI"
    p = forkd.Process(target=t.Greeter, args=("you",), connection=conn)
    p.start()
    assert p.result(T).who == "you"


def test_stdout_to_a_file(conn, tmp_path):
    out = open(tmp_path / "out", "wb")
    p = forkd.Process(target=t.hello, args=("bob",), stdout=out,
                      connection=conn)
    p.start()
    p.join(T)
    out.close()
    assert p.exitcode == 0
    assert (tmp_path / "out").read_bytes() == b"hello bob\n"


def test_env_and_cwd(conn, tmp_path):
    p = forkd.Process(target=t.environ, args=("FORKD_PYPKG",),
                      env={"FORKD_PYPKG": "set"}, connection=conn)
    p.start()
    assert p.result(T) == "set"
    p = forkd.Process(target=t.cwd, cwd=str(tmp_path), connection=conn)
    p.start()
    assert p.result(T) == str(tmp_path)
    # By default the child works in this process's directory, as a
    # multiprocessing child does: relative paths mean the same there.
    (tmp_path / "sub").mkdir()
    old = os.getcwd()
    os.chdir(tmp_path / "sub")
    try:
        p = forkd.Process(target=t.cwd, connection=conn)
        p.start()
        assert p.result(T) == str(tmp_path / "sub")
        with forkd.Executor(1, connection=conn) as ex:
            assert ex.submit(t.cwd).result(T) == str(tmp_path / "sub")
    finally:
        os.chdir(old)


def test_environment_and_umask_are_this_process(conn, tmp_path,
                                                monkeypatch):
    # As a multiprocessing child: this process's environment (changes
    # made here included) and umask; the spawn's env= wins.
    monkeypatch.setenv("FORKD_PP_MINE", "mine")
    monkeypatch.setenv("FORKD_PP_BOTH", "mine")
    monkeypatch.delenv("FORKD_PP_ABSENT", raising=False)
    names = ("FORKD_PP_MINE", "FORKD_PP_BOTH", "FORKD_PP_ABSENT")
    old = os.umask(0o077)
    try:
        p = forkd.Process(target=t.env_and_umask,
                          args=(names, str(tmp_path / "a")),
                          env={"FORKD_PP_BOTH": "env="}, connection=conn)
        p.start()
        env, mask, mode = p.result(T)
        assert env == {"FORKD_PP_MINE": "mine", "FORKD_PP_BOTH": "env=",
                       "FORKD_PP_ABSENT": None}
        assert mask == 0o077 and mode == 0o600
        # Keys and values as bytes, as os.environb has them.
        p = forkd.Process(target=t.env_and_umask,
                          args=(names, str(tmp_path / "a2")),
                          env={b"FORKD_PP_MINE": b"bytes"}, connection=conn)
        p.start()
        assert p.result(T)[0]["FORKD_PP_MINE"] == "bytes"
        # env_replace: env= is the whole environment; umask= as given.
        p = forkd.Process(target=t.env_and_umask,
                          args=(names, str(tmp_path / "b")),
                          env={"FORKD_PP_BOTH": "only"}, env_replace=True,
                          umask=0o027, connection=conn)
        p.start()
        env, mask, mode = p.result(T)
        assert env == {"FORKD_PP_MINE": None, "FORKD_PP_BOTH": "only",
                       "FORKD_PP_ABSENT": None}
        assert mask == 0o027 and mode == 0o640
        # Executor tasks too.
        with forkd.Executor(1, connection=conn) as ex:
            env, mask, _ = ex.submit(t.env_and_umask, names,
                                     str(tmp_path / "c")).result(T)
        assert env["FORKD_PP_MINE"] == "mine" and mask == 0o077
        # A variable longer than forkd takes stays here (a warning says
        # so); an environment too large for one request is not sent.
        monkeypatch.setenv("FORKD_PP_ABSENT", "x" * 5000)
        p = forkd.Process(target=t.env_and_umask,
                          args=(names, str(tmp_path / "d")), connection=conn)
        with pytest.warns(RuntimeWarning, match="FORKD_PP_ABSENT is over"):
            p.start()
        assert p.result(T)[0]["FORKD_PP_MINE"] == "mine"
        assert p.result(T)[0]["FORKD_PP_ABSENT"] is None
        monkeypatch.delenv("FORKD_PP_ABSENT")
        for i in range(10):
            monkeypatch.setenv("FORKD_PP_FILL%d" % i, "y" * 3000)
        p = forkd.Process(target=t.env_and_umask,
                          args=(names, str(tmp_path / "e")), connection=conn)
        with pytest.warns(RuntimeWarning, match="too large"):
            p.start()
        assert p.result(T)[0]["FORKD_PP_MINE"] is None
    finally:
        os.umask(old)


def test_run_calls_the_target_here(tmp_path):
    # multiprocessing's run(): the target in this process, no child.
    calls = []
    p = forkd.Process(target=calls.append, args=(1,))
    p.run()
    assert calls == [1] and p.pid is None


def test_child_starts_its_own_children(conn, tmp_path):
    # The child's default connection reaches the forkd that forked it,
    # as this connection was made (no FORKD_SOCKET in forkd's env).
    p = forkd.Process(target=t.nested, args=(41,), connection=conn)
    p.start()
    value, other, grandchild = p.result(T)
    assert value == 42 and other and grandchild != p.pid
    # Unless the spawn's env says otherwise.
    p = forkd.Process(target=t.nested, args=(1,), connection=conn,
                      env={"FORKD_SOCKET": str(tmp_path / "none.sock")})
    p.start()
    p.join(T)
    assert p.exitcode == 1
    with pytest.raises(OSError, match="none.sock"):
        p.result()
    # At its end a child runs its Executor's queued tasks, as an exit
    # would (it runs no exit handler).
    p = forkd.Process(target=t.executor_in_child,
                      args=(str(tmp_path / "task"), 3), connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 0
    assert sorted(os.listdir(tmp_path)) == ["task.0", "task.1", "task.2"]
    # At its end a child joins its non-daemon children, as a
    # multiprocessing child does: its exit comes after theirs.
    done = tmp_path / "done"
    p = forkd.Process(target=t.leave_child, args=(str(done), 0.5),
                      connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 0 and done.read_text() == "done"


def test_multiprocessing_current_and_parent_process(conn):
    import multiprocessing as mp
    p = forkd.Process(target=t.mp_process, name="worker", daemon=True,
                      connection=conn)
    assert p.authkey == mp.current_process().authkey
    p.start()
    r = p.result(T)
    assert p.ident == p.pid
    assert r == {"name": "worker", "pid": p.pid, "daemon": True,
                 "authkey": bytes(mp.current_process().authkey),
                 "identity": p._identity,
                 "parent": (mp.current_process().name, os.getpid(), True)}
    # Named and numbered as multiprocessing numbers its own: a child's
    # multiprocessing children are Process-N:M.
    p = forkd.Process(target=t.mp_grandchild_name, connection=conn)
    p.start()
    n = p.name.split("-")[1]
    assert p.result(T) == "Process-%s:1" % n
    # An authkey of the caller's choice; refused when not bytes.
    p = forkd.Process(target=t.mp_process, connection=conn)
    p.authkey = b"k" * 20
    p.start()
    r = p.result(T)
    assert r["authkey"] == b"k" * 20 and r["daemon"] is False
    with pytest.raises(TypeError, match="bytes"):
        p.authkey = "text"
    # Executor tasks are not multiprocessing daemons (which may not have
    # children), as ProcessPoolExecutor's workers are not.
    with forkd.Executor(1, connection=conn) as ex:
        assert ex.submit(t.mp_process).result(T)["daemon"] is False


def test_multiprocessing_manager_proxy_as_argument(conn):
    # The child has this process's authkey, so a manager's proxy passed as
    # an argument reaches the manager (a wrong key: AuthenticationError).
    import multiprocessing as mp
    with mp.Manager() as m:
        d = m.dict()
        ps = [forkd.Process(target=t.through_proxy, args=(d, i),
                            connection=conn) for i in range(3)]
        for p in ps:
            p.start()
        for p in ps:
            p.join(T)
            assert p.exitcode == 0
        assert dict(d) == {i: p.pid for i, p in enumerate(ps)}


def test_multiprocessing_connection_and_socket_as_arguments(conn):
    # Pickled as multiprocessing's spawn pickles them: the child gets
    # duplicates of this process's fds (plain pickle sent a Connection's
    # fd number, and the child wrote into its own result pipe).
    import multiprocessing as mp
    r, w = mp.Pipe(duplex=False)
    a, b = socket.socketpair()
    p = forkd.Process(target=t.send_through, args=(w, b, 7),
                      connection=conn)
    p.start()
    assert r.poll(T) and r.recv() == ("conn", 7, p.pid)
    a.settimeout(T)
    assert a.recv(100) == b"sock 7"
    assert p.result(T) == "sent" and p.exitcode == 0
    for x in (r, w, a, b):
        x.close()
    # A Connection as the return value: an error here, never a
    # Connection on whatever fd of this process has its number.
    p = forkd.Process(target=t.return_connection, connection=conn)
    p.start()
    with pytest.raises(forkd.RemoteError, match="cannot be unpickled"):
        p.result(T)
    # What multiprocessing shares only by inheritance stays refused, before
    # anything is sent.
    with pytest.raises(pickle.PicklingError, match="inheritance"):
        forkd.Process(target=t.add, args=(mp.Lock(), 1),
                      connection=conn).start()


def test_subclass_run_runs_in_the_child(conn):
    import pp_subclass as sc
    p = sc.Worker(21, name="w", daemon=True, connection=conn)
    p.start()
    r = p.result(T)
    assert p.exitcode == 0
    # The child ran run() on its own copy: its pid, name and attributes.
    assert r == {"pid": p.pid, "self_pid": p.pid, "name": "w",
                 "daemon": True, "value": 42, "alive": True,
                 "exitcode": None, "authkey": bytes(p.authkey),
                 "mp_name": "w"}
    # run() through super() calls the target with its arguments.
    p = sc.Traced(target=t.add, args=(1, 2), kwargs={"c": 3},
                  connection=conn)
    p.start()
    assert p.result(T) == ("traced", 6)
    # Called here, run() runs here (multiprocessing's run()).
    assert sc.Traced(target=t.add, args=(4, 5)).run() == ("traced", 9)


def test_subclass_run_errors(conn):
    import pp_subclass as sc
    p = sc.Failing(connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 1
    with pytest.raises(KeyError, match="from run"):
        p.result()
    p = sc.Failing(3, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 3
    # In the child, the copy refuses what only its parent may do.
    p = sc.Meddler(connection=conn)
    p.start()
    assert p.result(T) == ["join", "start", "terminate", "result"]
    # Refused before anything is sent: an attribute that does not pickle,
    # a subclass that cannot be imported by name.
    with pytest.raises(pickle.PicklingError, match="process object"):
        sc.Locked(connection=conn).start()

    class Local(forkd.Process):
        def run(self):
            return 1
    with pytest.raises(ValueError, match="module level"):
        Local(connection=conn).start()
    with pytest.raises(ValueError, match="needs a target"):
        forkd.Process(connection=conn).start()
    # Only start() pickles a process object (multiprocessing refuses it
    # too): a copy passed elsewhere would take the pid of its unpickler.
    w = sc.Worker(1, connection=conn)
    for attempt in (lambda: pickle.dumps(w), lambda: copy.copy(w),
                    lambda: forkd.Process(target=t.echo, args=(w,),
                                          connection=conn).start()):
        with pytest.raises((TypeError, pickle.PicklingError),
                           match="start"):
            attempt()
    conn.ping()


def test_unknown_option():
    with pytest.raises(TypeError, match="bogus"):
        forkd.Process(target=t.add, bogus=1)


def test_daemon_child_ends_with_its_connection(daemon):
    c = daemon.connect()
    p = forkd.Process(target=t.forever, daemon=True, connection=c)
    assert p.daemon
    p.start()
    assert p.is_alive()
    c.close()
    assert mp_wait([p.sentinel], T)
    p.join(T)                # through another connection
    assert p.exitcode in (-signal.SIGTERM, -signal.SIGKILL)


def test_join_timeout_terminate_kill(conn):
    p = forkd.Process(target=t.forever, connection=conn)
    p.start()
    t0 = time.monotonic()
    p.join(0.3)
    assert time.monotonic() - t0 >= 0.29
    assert p.is_alive() and p.exitcode is None
    with pytest.raises(ValueError, match="still running"):
        p.close()
    with pytest.raises(TimeoutError):
        p.result(timeout=0.1)
    p.terminate()
    p.join(T)
    assert p.exitcode == -signal.SIGTERM
    with pytest.raises(forkd.ProcessError) as ei:
        p.result()
    assert ei.value.exitcode == -signal.SIGTERM
    p.terminate()           # ended already: no error
    q = forkd.Process(target=t.forever, connection=conn)
    q.start()
    q.kill()
    q.join(T)
    assert q.exitcode == -signal.SIGKILL


def test_spawn_timeout_option(conn):
    p = forkd.Process(target=t.forever, timeout=0.3, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == -signal.SIGTERM
    assert p.exit_status.timed_out


def test_sentinel_with_selectors_and_asyncio(conn):
    p = forkd.Process(target=t.nap, args=(0.2,), connection=conn)
    p.start()
    with selectors.DefaultSelector() as sel:
        sel.register(p.sentinel, selectors.EVENT_READ)
        assert not p.exitcode
        assert sel.select(T)
    p.join(T)
    assert p.exitcode == 0

    q = forkd.Process(target=t.nap, args=(0.2,), connection=conn)
    q.start()

    async def ended():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.add_reader(q.sentinel, fut.set_result, True)
        try:
            return await asyncio.wait_for(fut, T)
        finally:
            loop.remove_reader(q.sentinel)
    assert asyncio.run(ended())
    assert q.result(T) == 0.2


def test_help_reads_like_the_standard_library():
    text = pydoc.render_doc(forkd.Process, renderer=pydoc.plaintext)
    assert "Process(target" in text
    for word in ("start(self)", "join(self, timeout", "is_alive(self)",
                 "terminate(self)", "kill(self)", "close(self)",
                 "result(self, timeout", "sentinel", "exitcode",
                 "spawn options"):
        assert word in text, word
    for obj in (forkd.connect, forkd.wait, forkd.active_children,
                forkd.cpu_count, forkd.Executor, forkd.Executor.submit,
                forkd.Executor.map, forkd.SpawnError):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj


# ---- wait, active_children, cpu_count ---------------------------------------------

def test_wait(conn):
    procs = [forkd.Process(target=t.nap, args=(s,), connection=conn)
             for s in (3.0 * SLOW, 0.05, 2.0 * SLOW)]
    for p in procs:
        p.start()
    done, not_done = forkd.wait(procs, timeout=T)
    assert procs[1] in done and procs[0] in not_done
    done, not_done = forkd.wait(procs, timeout=0.05)
    assert procs[1] in done
    done, not_done = forkd.wait(procs, timeout=T,
                                return_when=forkd.ALL_COMPLETED)
    assert done == set(procs) and not not_done
    assert [p.result() for p in procs] == [3.0 * SLOW, 0.05, 2.0 * SLOW]
    with pytest.raises(ValueError):
        forkd.wait(procs, return_when="SOMETIMES")


def test_wait_first_exception(conn):
    procs = [forkd.Process(target=t.fail_after, args=(0.1, 5),
                           connection=conn),
             forkd.Process(target=t.nap, args=(5,), connection=conn)]
    for p in procs:
        p.start()
    done, not_done = forkd.wait(procs, timeout=T,
                                return_when=forkd.FIRST_EXCEPTION)
    assert done == {procs[0]} and procs[0].exitcode == 5
    procs[1].kill()
    procs[1].join(T)


def test_active_children(conn):
    p = forkd.Process(target=t.forever, connection=conn)
    q = forkd.Process(target=t.add, args=(1, 1), connection=conn)
    p.start()
    q.start()
    q.join(T)
    kids = forkd.active_children()
    assert p in kids and q not in kids
    p.kill()
    p.join(T)
    assert p not in forkd.active_children()


def test_cpu_count():
    assert forkd.cpu_count() == len(os.sched_getaffinity(0))


# ---- what goes wrong ---------------------------------------------------------

def test_target_raises(conn):
    p = forkd.Process(target=t.boom, args=("kaboom",), connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 1
    with pytest.raises(ValueError, match="kaboom") as ei:
        p.result()
    cause = ei.value.__cause__
    assert isinstance(cause, forkd.RemoteTraceback)
    assert "in boom" in str(cause) and "raise ValueError(msg)" in str(cause)


def test_target_raises_unpicklable_exception(conn):
    p = forkd.Process(target=t.boom_unpicklable, connection=conn)
    p.start()
    with pytest.raises(forkd.RemoteError, match="cannot travel") as ei:
        p.result(T)
    assert "boom_unpicklable" in str(ei.value.__cause__)
    assert p.exitcode == 1


def test_sys_exit_3(conn):
    p = forkd.Process(target=t.exit3, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 3
    with pytest.raises(forkd.ProcessError) as ei:
        p.result()
    assert ei.value.exitcode == 3


def test_segfault(conn):
    p = forkd.Process(target=t.segfault, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == -signal.SIGSEGV
    with pytest.raises(forkd.ProcessError, match="signal 11"):
        p.result()


def test_unpicklable_arguments_are_refused_before_sending(conn):
    before = conn.status()["spawned_total"]
    p = forkd.Process(target=t.echo, args=(threading.Lock(),),
                      connection=conn)
    with pytest.raises(pickle.PicklingError, match="cannot be pickled"):
        p.start()
    assert p.pid is None
    assert conn.status()["spawned_total"] == before


def test_targets_sent_pickled(conn):
    # What cannot be looked up by name but pickles goes pickled, as
    # multiprocessing sends its target: a bound method, a partial, a
    # callable instance; in Process and in Executor.
    import functools
    g = t.Greeter("bob")
    p = forkd.Process(target=g.greet, kwargs={"greeting": "hi"},
                      connection=conn)
    p.start()
    r = p.result(T)
    assert r.startswith("hi bob from ") and r != "hi bob from %d" % os.getpid()
    p = forkd.Process(target=functools.partial(t.add, 1, c=10), args=(2,),
                      connection=conn)
    p.start()
    assert p.result(T) == 13
    with forkd.Executor(2, connection=conn) as ex:
        assert ex.submit(g, 5).result(T) == ("bob", 5)
        assert list(ex.map(functools.partial(t.add, 100), [1, 2, 3])) == \
            [101, 102, 103]
        assert list(ex.map(g.greet, ["a", "b"], chunksize=2))[1].startswith(
            "b bob")


def test_targets_that_cannot_be_named(conn):
    for bad in (lambda: 1, test_targets_that_cannot_be_named.__code__,
                threading.Lock().acquire):
        with pytest.raises(ValueError, match="by name.*nor can it be "
                           "pickled"):
            forkd.Process(target=bad, connection=conn).start()

    def local():
        pass
    with pytest.raises(ValueError, match="by name"):
        forkd.Process(target=local, connection=conn).start()


def test_main_without_a_file(conn, monkeypatch):
    main = types.ModuleType("__main__")
    exec("def f():\n    return 1\n", main.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    with pytest.raises(ValueError, match="no file"):
        forkd.Process(target=main.f, connection=conn).start()


def test_main_in_python_c(daemon):
    code = ("import forkd\n"
            "def f():\n    return 1\n"
            "try:\n    forkd.Process(target=f).start()\n"
            "except ValueError as e:\n    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], env=daemon.env(),
                       capture_output=True, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    assert "refused:" in r.stdout and "python -c" in r.stdout


def test_target_not_importable_in_forkd(conn, monkeypatch):
    # A module this process has and forkd's interpreter cannot import:
    # made here, with no file.
    mod = types.ModuleType("pp_only_here")
    exec("def f():\n    return 1\n", mod.__dict__)
    monkeypatch.setitem(sys.modules, "pp_only_here", mod)
    p = forkd.Process(target=mod.f, connection=conn)
    p.start()
    p.join(T)
    assert p.exitcode == 1
    with pytest.raises(ImportError, match="pp_only_here"):
        p.result()


def test_this_process_sys_path_and_argv(conn, tmp_path, monkeypatch):
    # As multiprocessing's spawn: the child imports from this process's
    # sys.path (a module beside the script, not on forkd's path=).
    (tmp_path / "pp_beside.py").write_text(
        "import sys\ndef f(x):\n    return x + 1, sys.argv\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["app.py", "--flag", "x y"])
    import pp_beside
    p = forkd.Process(target=pp_beside.f, args=(1,), connection=conn)
    p.start()
    assert p.result(T) == (2, ["app.py", "--flag", "x y"])
    # A sys.argv too long for one request: the child has its first item.
    monkeypatch.setattr(sys, "argv", ["app.py"] + ["a" * 1000] * 100)
    with forkd.Executor(1, connection=conn) as ex:
        assert ex.submit(pp_beside.f, 2).result(T) == (3, ["app.py"])
    # A first item forkd cannot take: none of it (never shifted).
    monkeypatch.setattr(sys, "argv", ["x" * 5000, "-v"])
    p = forkd.Process(target=t.argv, connection=conn)
    p.start()
    assert p.result(T) == ["python:call"]
    # Many sys.path entries: those over the budget are left out (a
    # warning says so), sys.argv still goes whole.
    monkeypatch.setattr(sys, "argv", ["app.py", "-v"])
    monkeypatch.setattr(sys, "path", sys.path + [
        "/nonexistent/forkd-pp-%03d" % i for i in range(300)])
    p = forkd.Process(target=t.argv, connection=conn)
    with pytest.warns(RuntimeWarning, match="sys.path entries are not sent"):
        p.start()
    assert p.result(T) == ["app.py", "-v"]


_ARGV_SCRIPT = """
import sys
import forkd
import pp_beside2

MODE = sys.argv[1]          # read at import, outside the main guard

def mode():
    return MODE, sys.argv

if __name__ == "__main__":
    for target in (mode, pp_beside2.where):
        p = forkd.Process(target=target)
        p.start()
        print(repr(p.result(60)))
"""


_NO_GUARD_SCRIPT = """
import forkd

def f():
    return 1

p = forkd.Process(target=f)     # no if __name__ == "__main__": guard
p.start()
p.join(60)
print("exitcode", p.exitcode)
"""

_EXECUTOR_AT_EXIT_SCRIPT = """
import os, sys, time
import forkd

def w(i):
    time.sleep(0.2)
    open(os.path.join(sys.argv[1], str(i)), "w").close()

if __name__ == "__main__":
    ex = forkd.Executor(2)
    for i in range(5):
        ex.submit(w, i)
    # No shutdown(): the tasks still queued run at exit, as
    # ProcessPoolExecutor's do.
"""


_CTRL_C_SCRIPT = """
import os, signal, sys, threading, time
import forkd
import pp_targets as t

if __name__ == "__main__":
    out = sys.argv[1]
    ps = [forkd.Process(target=t.sleep_then_write,
                        args=(os.path.join(out, str(i)), 30))
          for i in range(2)]
    for p in ps:
        p.start()
    ex = forkd.Executor(1)
    futs = [ex.submit(t.sleep_then_write, os.path.join(out, "task%d" % i),
                      30) for i in range(3)]
    print("started", flush=True)
    # Ctrl-C: SIGINT to this process (its children are in forkd's
    # session, the terminal's would not reach them).
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    if sys.argv[2] == "join":
        try:
            ps[0].join()
        except KeyboardInterrupt:
            ps[0].join(20)
            ps[1].join(20)
            print("exitcodes", ps[0].exitcode, ps[1].exitcode, flush=True)
            raise
    else:
        time.sleep(30)          # interrupted here; the exit passes it on
"""


def test_executor_works_after_a_caught_ctrl_c(conn):
    # A KeyboardInterrupt caught while joining: the program goes on, and
    # so do its executors (only what was queued then is cancelled).
    with forkd.Executor(1, connection=conn) as ex:
        assert ex.submit(t.add, 1, 2).result(T) == 3
        p = forkd.Process(target=t.nap, args=(30,), connection=conn)
        p.start()
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            p.join()
        p.join(T)
        assert p.exitcode == 1          # its KeyboardInterrupt
        assert [ex.submit(t.add, i, 1).result(T) for i in range(2)] == [1, 2]


@pytest.mark.parametrize("where", ["join", "sleep"])
def test_ctrl_c_reaches_the_children(daemon, tmp_path, where):
    # As a terminal's Ctrl-C reaches multiprocessing's children: the
    # children get SIGINT (KeyboardInterrupt there, exit code 1), the
    # queued Executor tasks are cancelled, the script ends at once.
    (tmp_path / "ctrlc.py").write_text(_CTRL_C_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "ctrlc.py", str(out), where],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    took = time.monotonic() - t0
    assert r.returncode != 0 and "KeyboardInterrupt" in r.stderr, r.stderr
    assert took < 20 * SLOW, (took, r.stdout, r.stderr)
    assert os.listdir(out) == [], r.stdout + r.stderr
    if where == "join":
        assert "exitcodes 1 1" in r.stdout, r.stdout + r.stderr


def test_script_without_main_guard(daemon, tmp_path):
    # The child imports the script, which starts a process at import:
    # multiprocessing's RuntimeError there, printed, and exit code 1.
    (tmp_path / "noguard.py").write_text(_NO_GUARD_SCRIPT)
    r = subprocess.run([sys.executable, "noguard.py"], env=daemon.env(),
                       capture_output=True, text=True, timeout=4 * T,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "exitcode 1", r.stdout + r.stderr
    assert "bootstrapping phase" in r.stderr and \
        "if __name__ == '__main__'" in r.stderr, r.stderr


def test_executor_tasks_of_main_run_at_exit(daemon, tmp_path):
    # CPython removes __main__.__file__ once the script's body has run;
    # the tasks still queued then must run all the same.
    (tmp_path / "atexit_tasks.py").write_text(_EXECUTOR_AT_EXIT_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "atexit_tasks.py", str(out)],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(os.listdir(out)) == ["0", "1", "2", "3", "4"], r.stderr


def test_script_reads_sys_argv_at_import(daemon, tmp_path):
    # A script that reads sys.argv at import, outside its main guard, and
    # a module beside it: the child imports both as the script did.
    (tmp_path / "app.py").write_text(_ARGV_SCRIPT)
    (tmp_path / "pp_beside2.py").write_text(
        "def where():\n    return __file__\n")
    r = subprocess.run([sys.executable, "app.py", "fast", ""],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        repr(("fast", ["app.py", "fast", ""])),
        repr(str(tmp_path / "pp_beside2.py"))], r.stdout + r.stderr


def test_target_not_allowed(restricted):
    with restricted.connect() as c:
        p = forkd.Process(target=t.add, args=(1, 2), connection=c)
        p.start()
        assert p.result(T) == 3
        p = forkd.Process(target=t.getpid, connection=c)
        p.start()
        p.join(T)
        assert p.exitcode == 1
        with pytest.raises(PermissionError, match="pp_targets:getpid"):
            p.result()
        c.ping()
        # Chunks run as forkd._executor:_run_chunk(fn, chunk).
        with forkd.Executor(2, connection=c) as ex:
            assert list(ex.map(t.add, range(7), range(7), chunksize=3)) == \
                [2 * i for i in range(7)]
            # The restricted unpickler refuses the function in the chunk.
            with pytest.raises(pickle.UnpicklingError, match="hello"):
                list(ex.map(t.hello, "abc", chunksize=2))
            with pytest.raises(PermissionError, match="pp_targets:getpid"):
                ex.submit(t.getpid).result(T)


def test_spawn_error_names_the_step(conn):
    p = forkd.Process(target=t.add, args=(1, 2), cwd="/nonexistent/dir",
                      connection=conn)
    with pytest.raises(forkd.SpawnError) as ei:
        p.start()
    e = ei.value
    assert e.errno == errno.ENOENT and e.step == "chdir"
    assert "/nonexistent/dir" in e.strerror
    assert p.pid is None


def test_spawn_refused_is_a_permission_error(conn):
    # forkd's policy gives no uid identity changes by default.
    p = forkd.Process(target=t.add, args=(1, 2), uid=65534, gid=65534,
                      connection=conn)
    with pytest.raises(PermissionError) as ei:
        p.start()
    assert isinstance(ei.value, forkd.SpawnError)
    assert ei.value.errno == errno.EPERM and ei.value.strerror


def test_never_returns_then_terminate(conn):
    p = forkd.Process(target=t.forever, connection=conn)
    p.start()
    p.join(timeout=0.5)
    assert p.exitcode is None
    p.terminate()
    p.join(T)
    assert p.exitcode == -signal.SIGTERM


def test_50_mib_of_stdout(conn):
    r, w = os.pipe()
    p = forkd.Process(target=t.stdout_mib, args=(50,), stdout=w,
                      connection=conn)
    p.start()
    os.close(w)
    n = 0
    while chunk := os.read(r, 1 << 20):
        n += len(chunk)
    os.close(r)
    p.join(T)
    assert n == 50 << 20
    assert p.exitcode == 0 and p.result() == 50


def test_100_mib_result_while_waiting_on_the_sentinel(conn):
    p = forkd.Process(target=t.big_result, args=(100 << 20,),
                      connection=conn)
    p.start()
    # Only the sentinel: the result pipe is read meanwhile by the package.
    assert mp_wait([p.sentinel], 4 * T)
    assert p.exitcode == 0
    assert len(p.result(T)) == 100 << 20


def test_16_mib_argument(conn):
    p = forkd.Process(target=t.big_arg, args=(b"a" * (16 << 20),),
                      connection=conn)
    p.start()
    assert p.result(T) == 16 << 20


# ---- Executor -----------------------------------------------------------------

def test_executor_submit_map_shutdown(conn):
    with forkd.Executor(max_workers=2, connection=conn) as ex:
        f = ex.submit(t.add, 1, 2, c=3)
        assert isinstance(f, concurrent.futures.Future)
        assert f.result(T) == 6
        assert list(ex.map(t.add, range(10), range(10))) == \
            [2 * i for i in range(10)]
        assert list(ex.map(t.add, range(25), range(25), chunksize=4)) == \
            [2 * i for i in range(25)]
        # a fresh child per task
        fs = [ex.submit(t.getpid) for _ in range(4)]
        assert len({f.result(T) for f in fs}) == 4
        bad = ex.submit(t.boom, "in executor")
        with pytest.raises(ValueError, match="in executor"):
            bad.result(T)
        assert "in boom" in str(bad.exception().__cause__)
        died = ex.submit(t.segfault)
        with pytest.raises(forkd.ProcessError):
            died.result(T)
        with pytest.raises(pickle.PicklingError):
            ex.submit(t.echo, threading.Lock())
    with pytest.raises(RuntimeError):
        ex.submit(t.add, 1, 2)


def test_executor_max_workers_and_cancel(conn):
    ex = forkd.Executor(max_workers=1, connection=conn)
    first = ex.submit(t.nap, 2.0)
    deadline = time.monotonic() + T
    while not first.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    queued = [ex.submit(t.nap, 0.01) for _ in range(3)]
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() == 2.0
    assert all(f.cancelled() for f in queued)
    with pytest.raises(ValueError):
        forkd.Executor(max_workers=0)


def test_executor_run_in_executor(conn):
    async def main():
        loop = asyncio.get_running_loop()
        with forkd.Executor(max_workers=2, connection=conn) as ex:
            return await asyncio.gather(
                *[loop.run_in_executor(ex, t.add, i, i) for i in range(5)])
    assert asyncio.run(main()) == [0, 2, 4, 6, 8]


# ---- examples -------------------------------------------------------------------

EXPECTED = {
    "hello.py": ["hello bob"],
    "args_kwargs.py": ["a=42 b=43 myParam1=44", "exitcode 0, returned 129"],
    "daemon.py": ["daemon child ended when its connection closed",
                  "non-daemon child: done", "non-daemon child exitcode: 0"],
    "join_timeout.py": ["after join(0.5): alive True exitcode None",
                        "after terminate(): exitcode -15"],
    "first_completed.py": ["first to complete: nap-0.1 returned 0.1",
                           "next: nap-1.0", "all done: [0.1, 1.0, 1.5]"],
    "pi.py": ["pi    = 3.14159", "from 4 children"],
    "pi_executor.py": ["pi    = 3.14159", "through forkd.Executor"],
    "subclass.py": ["counter counting to 100 in pid",
                    "exitcode 0, run() returned 5050"],
    "asyncio_executor.py": ["sum of squares below 10000 = 333283335000",
                            "sum of squares below 30000 = 8999550005000"],
}


def test_every_example_is_tested():
    assert sorted(EXPECTED) == sorted(
        f for f in os.listdir(EXAMPLES) if f.endswith(".py"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(daemon, name):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)],
                       env=daemon.env(), capture_output=True, text=True,
                       timeout=4 * T)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in EXPECTED[name]:
        assert line in r.stdout, (line, r.stdout, r.stderr)
    assert daemon.proc.poll() is None


# ---- install ----------------------------------------------------------------------

def test_cmake_install(tmp_path):
    build = os.environ.get("FORKD_BUILD_DIR")
    if not build:
        pytest.skip("FORKD_BUILD_DIR not set (ctest sets it)")
    prefix = tmp_path / "prefix"
    # cmake itself without the sanitizer runtime a sanitizer build preloads
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=T, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    found = list(prefix.glob("lib/python3*/*-packages/forkd/_forkd*.so"))
    assert len(found) == 1, list(prefix.rglob("forkd*"))
    site = found[0].parent.parent
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    # A sanitizer build's runtime and options go along.
    for k in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    r = subprocess.run([sys.executable, "-c",
                        "import forkd, sys; print(forkd.__file__); "
                        "print(forkd.Process.__name__)"],
                       env=env,
                       capture_output=True, text=True, timeout=T,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(site)) and "Process" in r.stdout


# ---- spawn options -------------------------------------------------------------------

def test_spawn_options_reach_the_child(conn):
    import resource
    p = forkd.Process(target=t.report, connection=conn,
                      rlimits={resource.RLIMIT_NOFILE: (64, 128)},
                      umask=0o027, nice=5, cpus=[0], pgroup="group")
    p.start()
    r = p.result(T)
    assert r["nofile"] == (64, 128)
    assert r["umask"] == 0o027
    assert r["nice"] >= 5
    assert r["cpus"] == [0]
    assert r["pgid"] == r["pid"] and r["sid"] != r["pid"]
    q = forkd.Process(target=t.report, connection=conn)
    q.start()
    r = q.result(T)
    assert r["sid"] == r["pid"]         # default: a session of its own
    # A resource by name; one number for both limits.
    for res in ("nofile", "RLIMIT_NOFILE"):
        q = forkd.Process(target=t.report, connection=conn,
                          rlimits={res: 48})
        q.start()
        assert q.result(T)["nofile"] == (48, 48)


def test_namespaces_option(conn):
    p = forkd.Process(target=t.report, namespaces=["net"], connection=conn)
    try:
        p.start()
    except forkd.SpawnError as e:
        pytest.skip("no network namespaces here: %s" % e)
    assert p.result(T)["net"] == ["lo"]


def test_cgroup_option(conn):
    p = forkd.Process(target=t.report, connection=conn)
    p.start()
    assert p.cgroup is None
    outer = p.result(T)["cgroup"]
    p = forkd.Process(target=t.report, cgroup=True, connection=conn)
    try:
        p.start()
    except forkd.SpawnError as e:
        pytest.skip("no usable cgroup2 root here: %s" % e)
    assert p.cgroup
    cg = p.result(T)["cgroup"]
    assert cg.endswith(p.cgroup) and cg != outer
    # A limit whose controller is not delegated: EOPNOTSUPP, named.
    q = forkd.Process(target=t.report, cgroup=True, pids_max=32,
                      connection=conn)
    try:
        q.start()
    except forkd.SpawnError as e:
        assert e.errno == errno.EOPNOTSUPP and "pids" in e.strerror
    else:
        assert q.result(T)["cgroup"].endswith(q.cgroup)


def test_default_connection_after_forkd_restarts(monkeypatch):
    from conftest import Forkd, _paths
    from forkd import _connection
    d = Forkd("path=%s" % _paths()).start()
    try:
        monkeypatch.setenv("FORKD_SOCKET", d.sock)
        monkeypatch.setenv("FORKD_KEY_FILE", d.keyfile)
        monkeypatch.setattr(_connection, "_default", None)
        p = forkd.Process(target=t.add, args=(1, 2))
        p.start()
        assert p.result(T) == 3
        assert d.stop() == 0
        d.start()
        # The old connection is seen closed before anything is sent on it
        # (POLLHUP): the spawn goes on a new one, at once.
        p = forkd.Process(target=t.add, args=(2, 3))
        p.start()
        assert p.result(T) == 5
    finally:
        d.cleanup()


def test_executor_tasks_finish_at_exit(daemon, tmp_path):
    # Like concurrent.futures: work submitted and never waited for is done
    # before the interpreter exits.
    out = tmp_path / "out"
    code = ("import forkd, pp_targets\n"
            "ex = forkd.Executor(1)\n"
            "f = ex.submit(pp_targets.nap, 0.3)\n"
            "f.add_done_callback(lambda f: open(%r, 'w').write("
            "repr(f.result())))\n" % str(out))
    r = subprocess.run([sys.executable, "-c", code], env=daemon.env(),
                       capture_output=True, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "0.3", r.stderr


def test_fds_stay_open_until_children_are_joined_at_exit(daemon):
    # weakref runs its finalizers at exit before forkd's exit handlers (and
    # before this check): a finalizer closing the pidfd or the executor's
    # wake-up pipe there let a reused fd number be read as the forkd
    # socket ('frame out of sequence').
    code = ("import atexit, os, forkd, pp_targets\n"
            "def check():\n"
            "    os.fstat(p.sentinel)\n"
            "    os.fstat(ex._wake_r)\n"
            "    print('open at exit', p.is_alive())\n"
            "p = forkd.Process(target=pp_targets.nap, args=(0.5,))\n"
            "p.start()\n"
            "ex = forkd.Executor(1)\n"
            "ex.submit(pp_targets.nap, 0.1)\n"
            # After the first start(): it runs before the joins, as with
            # multiprocessing (whose exit function is registered then).
            "atexit.register(check)\n")
    r = subprocess.run([sys.executable, "-c", code], env=daemon.env(),
                       capture_output=True, text=True, timeout=T)
    assert r.returncode == 0, r.stderr
    assert "open at exit True" in r.stdout, r.stderr
    assert "Error" not in r.stderr, r.stderr


def test_bad_spawn_options_refused_before_sending(conn):
    before = conn.status()["spawned_total"]
    for bad in ({"umask": 0o7777}, {"nice": 99}, {"rlimits": {99: (1, 1)}},
                {"cpus": [5000]}, {"kill_grace": 1.0}):
        p = forkd.Process(target=t.add, args=(1, 2), connection=conn, **bad)
        with pytest.raises(forkd.SpawnError) as ei:
            p.start()
        assert ei.value.errno == errno.EINVAL, bad
        assert ei.value.strerror and ei.value.step is None, bad
    with pytest.raises(ValueError, match="bogus"):
        forkd.Process(target=t.add, namespaces=["bogus"],
                      connection=conn).start()
    with pytest.raises(TypeError):
        forkd.Process(target=t.add, cwd=42, connection=conn).start()
    # Said in Python terms, before anything is sent.
    for bad, exc, msg in (({"timeout": -1}, ValueError, "positive"),
                          ({"timeout": 0}, ValueError, "positive"),
                          ({"kill_grace": -0.5}, ValueError, "positive"),
                          ({"timeout": "5"}, TypeError, "number"),
                          ({"rlimits": {"bogus": 1}}, ValueError, "bogus"),
                          ({"rlimits": {1.5: 1}}, TypeError, "RLIMIT")):
        with pytest.raises(exc, match=msg):
            forkd.Process(target=t.add, connection=conn, **bad).start()
    assert conn.status()["spawned_total"] == before


def test_extension_refuses_a_second_thread_on_a_handle(conn):
    # forkd._forkd.Connection is libforkd's handle: one call at a time. A
    # call from another thread meanwhile is an error, not a corruption.
    from forkd import _forkd
    raw = _forkd.Connection(conn.socket, conn.key)
    p = forkd.Process(target=t.nap, args=(1.0,), connection=conn)
    p.start()
    done = threading.Event()
    # Not the package's own connection: forkd waits for any child of the uid.
    th = threading.Thread(target=lambda: (raw.wait(p.pid, T), done.set()))
    th.start()
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        try:
            raw.ping()
        except RuntimeError as e:
            assert "another thread" in str(e)
            break
        time.sleep(0.01)
    else:
        pytest.fail("a second call on the handle was let through")
    with pytest.raises(RuntimeError):
        raw.close()
    assert raw.fileno() >= 0
    th.join(T)
    assert done.is_set()
    raw.ping()
    raw.close()
    p.join(T)


def test_join_without_a_pidfd(conn):
    # An older forkd passes no pidfd: join() and is_alive() ask forkd.
    p = forkd.Process(target=t.forever, connection=conn)
    p.start()
    os.close(p._pidfd[0])
    p._pidfd[0] = -1
    p.join(0.2)
    assert p.is_alive() and p.exitcode is None
    conn.ping()                     # the lock is not held meanwhile
    p.kill()
    p.join(T)
    assert p.exitcode == -signal.SIGKILL


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_executor_whose_thread_failed(conn, monkeypatch):
    ex = forkd.Executor(1, connection=conn)

    def broken():
        raise MemoryError("simulated")
    monkeypatch.setattr(ex, "_start_next", broken)
    fut = ex.submit(t.add, 1, 2)
    with pytest.raises(MemoryError):
        fut.result(T)           # not left waiting forever
    ex._thread.join(T)
    with pytest.raises(RuntimeError, match="thread failed"):
        ex.submit(t.add, 1, 2)
