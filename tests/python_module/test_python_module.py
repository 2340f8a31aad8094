"""The python module (modules/python) against a real forkd preloading
numpy: python:call, python:main, what goes wrong, allow=, start-up
refusals. Run: /usr/bin/python3 -m pytest tests/python_module"""

import errno
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from conftest import SLOW, TARGETS, run_forkd_until_exit

MIB = 1 << 20


# ---- python:call, the good path -------------------------------------------

def test_call_returns_value(forkd):
    r = forkd.call("pm_targets:add", (1, 2), {"scale": 3})
    assert (r.exitcode, r.result) == (0, ("ok", 9))


def test_numpy_preloaded_and_used(forkd):
    r = forkd.call("pm_targets:whoami")
    assert r.exitcode == 0 and r.result[1]["numpy"] is True
    r = forkd.call("pm_targets:numpy_sum", (1000,))
    assert r.result == ("ok", 499500)


def test_thread_env_defaults(forkd):
    # forkd was started without them: the module set them to 1.
    env = forkd.call("pm_targets:whoami").result[1]["env"]
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env.get(v) == "1", v


def test_child_single_threaded_after_numpy(forkd):
    assert forkd.call("pm_targets:threads_now").result == ("ok", 1)


def test_no_fds_means_no_args_no_result(forkd):
    r = forkd.call("pm_targets:whoami", pass_args=False, pass_result=False)
    assert r.exitcode == 0 and r.result is None
    r = forkd.call("pm_targets:echo", pass_args=False)
    assert r.result == ("ok", ((), {}))


def test_env_of_the_request_is_os_environ(forkd):
    r = forkd.call("pm_targets:whoami", env=["PM_TEST_VAR=hello"])
    assert r.result[1]["env"]["PM_TEST_VAR"] == "hello"


def test_at_fork_child_hooks_run(forkd):
    # random reseeds itself through os.register_at_fork(after_in_child=...):
    # two children from one image must not draw the same number.
    a = forkd.call("pm_targets:random_value").result[1]
    b = forkd.call("pm_targets:random_value").result[1]
    assert a != b


def test_gc_frozen_and_enabled_in_child(forkd, nofreeze):
    enabled, frozen = forkd.call("pm_targets:gc_state").result[1]
    assert enabled and frozen > 1000
    enabled, frozen = nofreeze.call("pm_targets:gc_state").result[1]
    assert enabled and frozen == 0


def test_stdio_not_lost_nor_doubled(forkd):
    # Unterminated lines stay in the buffers until the child's exit.
    r = forkd.call("pm_targets:print_and_return", ("hi",))
    assert r.result == ("ok", "hi")
    assert r.stdout == b"hi"
    assert r.stderr == b"err:hi"


def test_signals_as_in_python(forkd):
    # SIGINT raises KeyboardInterrupt, SIGPIPE is ignored (BrokenPipeError),
    # as the interpreter sets them up at start-up.
    r = forkd.call("pm_targets:interrupt_self")
    assert r.exitcode == 1 and isinstance(r.result[1], KeyboardInterrupt)
    r = forkd.call("pm_targets:write_to_closed_pipe")
    assert (r.exitcode, r.result) == (0, ("ok", "EPIPE"))


def test_preloaded_logging_works(forkd):
    r = forkd.call("pm_targets:log_warning", ("careful",))
    assert r.result == ("ok", "careful") and r.stderr == b"careful\n"


def test_stdin_is_fd0(forkd):
    r = forkd.call("pm_targets:read_stdin", stdin=b"from the client\n")
    assert r.result == ("ok", "from the client\n")


def test_without_pool(forkd_nopool):
    r = forkd_nopool.call("pm_targets:add", (2, 3))
    assert r.result == ("ok", 5)
    a = forkd_nopool.call("pm_targets:random_value").result[1]
    b = forkd_nopool.call("pm_targets:random_value").result[1]
    assert a != b
    r = forkd_nopool.call("pm_targets:print_and_return", ("x",))
    assert (r.stdout, r.stderr) == (b"x", b"err:x")


# ---- what goes wrong ---------------------------------------------------------

def test_target_not_importable(forkd):
    r = forkd.call("no_such_module_pm:f")
    assert r.exitcode == 1
    kind, exc, tb, rep = r.result
    assert kind == "err" and isinstance(exc, ImportError)
    assert "no_such_module_pm:f" in str(exc)
    forkd.assert_serving()


def test_target_attribute_missing_or_not_callable(forkd):
    r = forkd.call("pm_targets:no_such_function")
    assert r.exitcode == 1 and isinstance(r.result[1], AttributeError)
    assert "pm_targets:no_such_function" in r.result[3]
    r = forkd.call("pm_targets:not_callable")
    assert r.exitcode == 1 and isinstance(r.result[1], TypeError)
    r = forkd.call("pm_targets")
    assert r.exitcode == 1 and "MODULE:QUALNAME" in r.result[3]


def test_target_raises(forkd):
    r = forkd.call("pm_targets:boom", ("bad thing",))
    assert r.exitcode == 1
    kind, exc, tb, rep = r.result
    assert kind == "err" and isinstance(exc, ValueError)
    assert str(exc) == "bad thing" and rep == "ValueError('bad thing')"
    assert "pm_targets.py" in tb and "raise ValueError(msg)" in tb
    assert "forkd_python" not in tb     # starts at the target
    # Printed too, as multiprocessing prints it; not with --quiet.
    assert r.stderr.startswith(b"Process call-") and \
        r.stderr.endswith(b"ValueError: bad thing\n"), r.stderr
    r = forkd.call("pm_targets:boom", ("bad thing",), argv=[
        "python:call", "pm_targets:boom", "--quiet", "--name", "w"])
    assert r.exitcode == 1 and r.result[1].args == ("bad thing",)
    assert r.stderr == b""
    forkd.assert_serving()


def test_target_raises_unpicklable_exception(forkd):
    r = forkd.call("pm_targets:boom_unpicklable")
    assert r.exitcode == 1
    kind, exc, tb, rep = r.result
    assert kind == "err" and exc is None
    assert "Unpicklable" in tb and "Unpicklable" in rep


def test_raise_without_result_fd_prints_traceback(forkd):
    r = forkd.call("pm_targets:boom", ("on stderr",), pass_result=False)
    assert r.exitcode == 1
    assert b"ValueError: on stderr" in r.stderr


def test_sys_exit(forkd):
    assert forkd.call("pm_targets:exit_with", (3,)).exitcode == 3
    assert forkd.call("pm_targets:exit_with", (None,)).exitcode == 0
    r = forkd.call("pm_targets:exit_with", ("a message",))
    assert r.exitcode == 1 and r.stderr == b"a message\n"
    assert r.result is None     # nothing written on sys.exit()
    forkd.assert_serving()


def _processes_named(names):
    """Pids of the processes whose comm is one of names."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().rstrip("\n") in names:
                    found.append(int(d))
        except OSError:
            pass
    return found


def test_exit_leaves_no_process_behind(forkd, forkd_nopool):
    # A child hands the unmapping of its image to a helper that shares it
    # (python_exit_early()) and exits; the helper, named as the child,
    # goes right after it: none may be left.
    names = set()
    for i, server in enumerate((forkd, forkd_nopool) * 4):
        name = "pm-exit-%d" % i
        r = server.call("pm_targets:name_self", (name,))
        assert r.exitcode == 0 and r.result[0] == "ok", r
        names.add(name)
    deadline = time.monotonic() + 10 * SLOW
    while _processes_named(names):
        assert time.monotonic() < deadline, \
            "left behind: %r" % _processes_named(names)
        time.sleep(0.02)
    forkd.assert_serving()


def test_exit_helper_holds_no_pipe(forkd, forkd_nopool):
    # The helper that unmaps a child's image after its exit holds none of
    # the child's pipes: the call (which reads stdout, stderr and the
    # result to their end) returns at the child's exit, while the helper
    # still unmaps (1 GiB keeps it at it long enough to be seen), and the
    # helper is gone soon after.
    for i, server in enumerate((forkd, forkd_nopool)):
        name = "pm-helper-%d" % i
        r = server.call("pm_targets:fill_and_name", (name, 1024))
        assert r.exitcode == 0 and r.result[0] == "ok", r
        helpers = [p for p in _processes_named({name}) if p != r.result[1]]
        assert helpers, "no helper left unmapping after the call returned"
        deadline = time.monotonic() + 10 * SLOW
        while _processes_named({name}):
            assert time.monotonic() < deadline, "helper left behind"
            time.sleep(0.01)
        server.assert_serving()


def test_target_has_no_child_of_forkds(forkd):
    # Nothing forkd or the module makes is the target's child while it
    # runs: os.wait() finds none (it would block on a helper).
    r = forkd.call("pm_targets:children_now", timeout=30)
    assert (r.exitcode, r.result) == (0, ("ok", None))


def test_segfault(forkd):
    r = forkd.call("pm_targets:segfault")
    assert r.exitcode == -signal.SIGSEGV and r.result is None
    forkd.assert_serving()


def test_target_never_returns_terminated(forkd):
    # A target that does not return: the client's wait times out, SIGTERM
    # ends it (-15), and forkd serves on.
    import forkd_client as fc
    r, w = os.pipe()
    pid, _ = forkd.conn.spawn("python:call",
                              argv=["python:call", "pm_targets:sleep"],
                              fds={3: r})
    os.close(r)
    os.write(w, pickle.dumps(((3600,), {})))
    os.close(w)
    with pytest.raises(fc.ForkdError):
        forkd.conn.wait(pid, 300)
    forkd.conn.signal(pid, signal.SIGTERM)
    assert forkd.conn.wait(pid, 10000)["exitcode"] == -signal.SIGTERM
    forkd.assert_serving()


def test_unpicklable_return_value(forkd):
    # The target returned: exit 0 and nothing printed (multiprocessing
    # drops return values); the result pipe says why there is none.
    r = forkd.call("pm_targets:return_lambda")
    assert r.exitcode == 0 and r.result[0] == "err"
    assert "pickle" in r.result[2].lower() and r.stderr == b""


def test_bad_args_pickle(forkd):
    r = forkd.call("pm_targets:add", payload=b"not a pickle")
    assert r.exitcode == 1 and r.result[0] == "err"
    r = forkd.call("pm_targets:add", payload=pickle.dumps([1, 2]))
    assert r.exitcode == 1 and "(args, kwargs)" in r.result[3]
    forkd.assert_serving()


def test_multiprocessing_sees_the_child(forkd):
    # The options after the target say what multiprocessing's
    # current_process() and parent_process() give in the child.
    me = os.pidfd_open(os.getpid())
    try:
        r = forkd.call("pm_targets:mp_process", argv=[
            "python:call", "pm_targets:mp_process", "--name", "w 1",
            "--identity", "4:2", "--parent-pid", str(os.getpid()),
            "--parent-name", "Boss", "--daemon", "--authkey", "6b" * 32],
            extra_fds={5: me})
    finally:
        os.close(me)
    assert r.exitcode == 0, r
    assert r.result[1] == {
        "name": "w 1", "pid_ok": True, "daemon": True, "identity": (4, 2),
        "authkey": b"k" * 32, "alive": True,
        "parent": ("Boss", os.getpid(), True)}
    # Without them: named as a first child, no parent, and an authkey of
    # its own, never the one forkd's image would give every child.
    a = forkd.call("pm_targets:mp_process").result[1]
    b = forkd.call("pm_targets:mp_process").result[1]
    assert a["name"].startswith("call-") and a["daemon"] is False
    assert a["parent"] is None and a["identity"] == ()
    assert len(a["authkey"]) == 32 and a["authkey"] != b["authkey"]


def test_bad_call_options(forkd):
    for extra, msg in ((["--bogus"], "unknown argument '--bogus'"),
                       (["--name"], "--name needs a value"),
                       (["--identity", "1:x"], "want numbers"),
                       (["--authkey", "xyz"], "hexadecimal"),
                       (["--authkey", ""], "empty"),
                       (["--daemon", "--daemon"], "given twice"),
                       (["--path", "rel/dir"], "want an absolute directory"),
                       (["--path"], "--path needs a value"),
                       (["--forkd-key", "k"], "want an absolute path"),
                       (["--environ", "x"], "--environ needs a count"),
                       (["--name", "n", "--environ", "0"],
                        "right after MODULE:QUALNAME"),
                       (["--environ", "2", "A=1"], "only 1 items follow"),
                       (["--environ", "1", "=1"], "not NAME=VALUE"),
                       (["--environ", "1", "A=1", "--environ", "1", "B=2"],
                        "--environ given twice"),
                       (["--environ", "0", "--environ", "1", "B=2"],
                        "right after")):
        r = forkd.call("pm_targets:add", (1, 2),
                       argv=["python:call", "pm_targets:add"] + extra)
        assert r.exitcode == 2 and msg in r.result[3], (extra, r)
    forkd.assert_serving()


def test_50_mib_stdout(forkd):
    r = forkd.call("pm_targets:print_mib", (50,), timeout=120)
    assert r.exitcode == 0 and r.result == ("ok", 50)
    assert len(r.stdout) == 50 * MIB + 4
    assert r.stdout.endswith(b"x\nend\n")
    assert r.stdout.count(b"\n") == 50 * 1024 + 1
    forkd.assert_serving()


def test_100_mib_return_value(forkd):
    r = forkd.call("pm_targets:big_bytes", (100,), timeout=120)
    assert r.exitcode == 0 and r.result[0] == "ok"
    v = r.result[1]
    assert len(v) == 100 * MIB and v == bytes(range(256)) * (100 * 4096)
    forkd.assert_serving()


def test_100_mib_argument(forkd):
    blob = os.urandom(MIB) * 100
    r = forkd.call("pm_targets:echo", (blob,), timeout=120)
    assert r.exitcode == 0 and r.result[1][0][0] == blob


# ---- --main: targets defined in the client's __main__ --------------------------

MAIN_SCRIPT = '''
import sys

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

def norm1(p):
    return abs(p.x) + abs(p.y), __name__

def where():
    return sys.modules["__main__"].__name__, __name__

if __name__ == "__main__":
    raise SystemExit("the main guard must not run in the child")
'''


def _write_main(directory, name="pm_client_main.py"):
    path = os.path.join(str(directory), name)
    with open(path, "w") as f:
        f.write(MAIN_SCRIPT)
    return path


def test_main_script_targets(forkd, tmp_path):
    path = _write_main(tmp_path)
    # Pickle a __main__.Point as a client script would: the class is
    # looked up as __main__.Point in the child.
    import types
    fake = types.ModuleType("__main__")
    exec(compile(MAIN_SCRIPT.replace('if __name__ == "__main__"', "if 0"),
                 path, "exec"), fake.__dict__)
    real_main = sys.modules["__main__"]
    sys.modules["__main__"] = fake
    try:
        fake.Point.__module__ = "__main__"
        payload = pickle.dumps(((fake.Point(3, -4),), {}))
    finally:
        sys.modules["__main__"] = real_main
    r = forkd.call("__main__:norm1", main=path, payload=payload)
    assert (r.exitcode, r.result) == (0, ("ok", (7, "__mp_main__"))), r
    r = forkd.call("__mp_main__:where", main=path)
    assert r.result == ("ok", ("__mp_main__", "__mp_main__"))


def test_main_missing(forkd, tmp_path):
    r = forkd.call("__main__:f", main=str(tmp_path / "absent.py"))
    assert r.exitcode == 1 and r.result[0] == "err"
    r = forkd.call("__main__:f")
    assert r.exitcode == 1 and "no --main" in r.result[3]
    r = forkd.call("__main__:f", main="relative.py")
    assert r.exitcode == 1 and "absolute" in r.result[3]


# ---- python:main ---------------------------------------------------------------

def test_python_main(forkd):
    code, out, err = forkd.spawn_main("pm_main_mod", ["a", "b"])
    assert code == 0, err
    assert out == b"name=__main__ argv=['a', 'b']\n"
    code, out, err = forkd.spawn_main("pm_main_mod", ["exit=4"])
    assert code == 4
    code, out, err = forkd.spawn_main("pm_main_mod", ["fail"])
    assert code == 1 and b"RuntimeError: main failed" in err
    code, out, err = forkd.spawn_main("no_such_module_pm")
    assert code == 1 and b"no_such_module_pm" in err
    # A main process, with an authkey of its own.
    keys = set()
    for _ in range(2):
        code, out, err = forkd.spawn_main("pm_main_mod", ["process"])
        assert code == 0, err
        name, key = out.decode().split()[-2:]
        assert name == "MainProcess" and len(key) == 64
        keys.add(key)
    assert len(keys) == 2
    forkd.assert_serving()


# ---- allow= (a restricted policy) --------------------------------------------

def test_allow_refuses_other_targets(restricted):
    r = restricted.call("json:dumps", ([1],))
    assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
    assert "json:dumps" in r.result[3]
    assert restricted.call("pm_targets:add", (1, 1)).result == ("ok", 2)


def test_allow_checks_what_the_name_resolves_to(restricted):
    # pm_targets:* matches the name, but os.getcwd is posix:getcwd.
    r = restricted.call("pm_targets:os.getcwd")
    assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
    assert "posix:getcwd" in r.result[3]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


def test_allow_restricts_unpickling(restricted, forkd, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(((_Evil(marker),), {}))
    r = restricted.call("pm_targets:echo", payload=payload)
    assert r.exitcode == 1 and r.result[0] == "err"
    assert "not allowed" in r.result[3]
    assert not marker.exists()
    # Plain containers and scalars still pass.
    args = ({1, 2}, frozenset([3]), 1 + 2j, bytearray(b"x"), range(3),
            [None, True, 1.5], {"k": (b"v",)})
    r = restricted.call("pm_targets:echo", args)
    assert r.result == ("ok", (args, {}))
    # Unrestricted (no allow=), the key holder may send any pickle.
    forkd.call("pm_targets:echo", payload=payload)
    assert marker.exists()


def test_allow_refuses_numpy_dtypes(restricted):
    # A numpy array pickles (protocol 5) as numpy.core.numeric:_frombuffer
    # and numpy:dtype. numpy's dtype takes its flags (are the items object
    # pointers?) from the pickle unchecked, so a forged one turned a
    # client's bytes into pointers (a crash, -11). Under allow=, no
    # pattern lets a dtype be unpickled: the fixture's allow= names
    # numpy:dtype, and the array is still refused, with how to send it.
    import numpy
    a = numpy.arange(12, dtype=numpy.int64).reshape(3, 4)
    for proto in (2, 5):
        payload = pickle.dumps(((a,), {}), protocol=proto)
        r = restricted.call("pm_targets:echo", payload=payload)
        assert r.exitcode == 1 and isinstance(r.result[1],
                                              pickle.UnpicklingError), r
        assert "not allowed" in r.result[3] or \
            "never unpickled" in r.result[3], r
    r = restricted.call("pm_targets:echo", (a.dtype,))
    assert r.exitcode == 1 and "numpy.frombuffer" in r.result[3], r
    # What it says to do instead works.
    r = restricted.call("pm_targets:echo", (a.tobytes(), a.dtype.str,
                                            a.shape))
    raw, dt, shape = r.result[1][0]
    assert (numpy.frombuffer(raw, dt).reshape(shape) == a).all()
    restricted.assert_serving()


def test_allow_confines_main(restricted, tmp_path):
    outside = _write_main(tmp_path)
    r = restricted.call("__main__:where", main=outside)
    assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
    assert "path=" in r.result[3] and "__main__:where" in r.result[3]
    # Through a symbolic link inside path= to a file outside: refused too.
    link = os.path.join(TARGETS, "pm_link_main_%d.py" % os.getpid())
    os.symlink(outside, link)
    try:
        r = restricted.call("__main__:where", main=link)
        assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
    finally:
        os.unlink(link)


def test_allow_main_loaded_from_the_path_checked(restricted, tmp_path):
    # A link the client owns, to a script inside path=, passes the check;
    # the script must then be read where the check found it. Loaded by
    # the link's path, the loader read a .pyc from the __pycache__ beside
    # the link, which the client wrote: its code ran as forkd's user.
    import importlib._bootstrap_external as be
    import importlib.util
    inside = _write_main(TARGETS, "pm_main_link_%d.py" % os.getpid())
    link = tmp_path / "t.py"
    os.symlink(inside, link)
    marker = tmp_path / "evil-ran"
    st = os.stat(inside)
    code = compile("open(%r, 'w').write('x')\ndef where():\n"
                   "    return 'evil', 'evil'\n" % str(marker), str(link),
                   "exec")
    pyc = importlib.util.cache_from_source(str(link))
    os.makedirs(os.path.dirname(pyc))
    with open(pyc, "wb") as f:
        f.write(be._code_to_timestamp_pyc(code, st.st_mtime, st.st_size))
    try:
        r = restricted.call("__main__:where", main=str(link))
        assert r.result == ("ok", ("__mp_main__", "__mp_main__")), r
        assert not marker.exists()
    finally:
        os.unlink(inside)


def test_allow_ignores_breakpoint(restricted):
    # Under allow=, a breakpoint() in allowed code does nothing: pdb would
    # read its commands from the client's stdin, and PYTHONBREAKPOINT
    # would name any callable to import and call.
    r = restricted.call("pm_targets:debug",
                        stdin=b"import os; print('pdb ran')\nc\n")
    assert r.result == ("ok", None), r
    assert b"pdb ran" not in r.stdout and b"(Pdb)" not in r.stdout
    assert b"breakpoint() ignored" in r.stderr
    restricted.assert_serving()


def test_allow_makes_forkd_check_the_environment(restricted, forkd):
    import forkd_client as fc
    # allow= alone (no allow_targets in forkd's [policy]) restricts the
    # request's environment as allow_targets does: PYTHONBREAKPOINT would
    # name a hook to import and call, LD_PRELOAD a library for every
    # program an allowed target runs.
    for var in ("PYTHONBREAKPOINT=os.system", "LD_PRELOAD=/tmp/x.so",
                "PYTHONINSPECT=1"):
        with pytest.raises(fc.ForkdError) as e:
            restricted.call("pm_targets:add", (1, 2), env=[var])
        assert e.value.code == -errno.EPERM, e.value
        assert "python module's allow=" in e.value.message, e.value
    r = restricted.call("pm_targets:environ_of", ("MYAPP_X",),
                        env=["MYAPP_X=1"])
    assert r.result == ("ok", "1"), r
    # Without allow=, forkd's default policy checks nothing.
    r = forkd.call("pm_targets:environ_of", ("PYTHONINSPECT",),
                   env=["PYTHONINSPECT=1"])
    assert r.result == ("ok", "1"), r
    restricted.assert_serving()


def test_python_main_refuses_what_is_not_a_module_name(restricted):
    # pm_targets:x:__main__ would match allow=pm_targets:*; python:main
    # takes module names only.
    for name in ("pm_targets:x", "pm_targets.", "../pm_targets", ""):
        code, out, err = restricted.spawn_main(name)
        assert code == 2 and b"not a module name" in err, (name, err)


def test_allow_main_inside_path(restricted):
    inside = _write_main(TARGETS, "pm_main_inside_%d.py" % os.getpid())
    try:
        before = restricted.call("pm_targets:sys_path").result[1]
        r = restricted.call("__main__:where", main=inside)
        assert r.result == ("ok", ("__mp_main__", "__mp_main__")), r
    finally:
        os.unlink(inside)
    assert before == restricted.call("pm_targets:sys_path").result[1]


def test_no_client_import_paths(restricted, forkd, tmp_path):
    # Neither the request's cwd, nor PYTHONPATH, nor --main adds to
    # sys.path under allow=.
    (tmp_path / "pm_planted.py").write_text("X = 1\n")
    base = restricted.call("pm_targets:sys_path").result[1]
    assert all(os.path.isabs(p) for p in base)
    # forkd refuses a PYTHONPATH under allow= (the python module says it
    # restricts targets); the interpreter would not read it anyway.
    import forkd_client as fc
    with pytest.raises(fc.ForkdError) as e:
        restricted.call("pm_targets:sys_path",
                        env=["PYTHONPATH=%s" % tmp_path])
    assert e.value.code == -errno.EPERM and "PYTHONPATH" in e.value.message
    outside = _write_main(tmp_path)
    r = restricted.call("pm_targets:sys_path", main=outside)
    assert r.exitcode == 1
    # Nor the client's sys.path (--path); nor does its environment reach
    # os.environ (--environ).
    r = restricted.call("pm_targets:sys_path", argv=[
        "python:call", "pm_targets:sys_path",
        "--environ", "1", "PYTHONPATH=%s" % tmp_path, "--path", str(tmp_path)])
    assert r.exitcode == 0 and r.result[1] == base
    r = restricted.call("pm_targets:environ_of", ("FORKD_PM_ENV",), argv=[
        "python:call", "pm_targets:environ_of", "--environ", "1",
        "FORKD_PM_ENV=x"])
    assert r.exitcode == 0 and r.result[1] is None
    # Nor where an allowed target's own forkd.Process would connect.
    r = restricted.call("pm_targets:environ_of", ("FORKD_SOCKET",), argv=[
        "python:call", "pm_targets:environ_of", "--forkd-socket",
        "/evil/forkd.sock"])
    assert r.exitcode == 0 and r.result[1] != "/evil/forkd.sock"
    r = forkd.call("pm_targets:environ_of", ("FORKD_PM_ENV",), argv=[
        "python:call", "pm_targets:environ_of", "--environ", "3",
        "FORKD_PM_ENV=a", "OTHER=1", "FORKD_PM_ENV=x=y", "--name", "n"],
        env=["FORKD_PM_ENV=forkd's", "FORKD_PM_KEEP=k"])
    assert r.exitcode == 0 and r.result[1] == "x=y"
    r = forkd.call("pm_targets:environ_of", ("FORKD_PM_KEEP",), argv=[
        "python:call", "pm_targets:environ_of", "--environ", "1",
        "FORKD_PM_ENV=a"], env=["FORKD_PM_KEEP=k"])
    assert r.exitcode == 0 and r.result[1] == "k"
    # Without allow=, --main's directory comes first, as for a script.
    r = forkd.call("pm_targets:sys_path", main=outside)
    assert r.result[1][0] == str(tmp_path)


def test_client_sys_path_and_argv(forkd, tmp_path):
    # As multiprocessing's spawn gives its child the parent's sys.path and
    # sys.argv: the --path entries the interpreter lacks go first, in the
    # client's order, so a module beside the client's script imports;
    # what follows -- is sys.argv.
    (tmp_path / "pm_beside.py").write_text(
        "import sys\ndef where():\n    return __file__, sys.argv\n")
    other = tmp_path / "other"
    other.mkdir()
    base = forkd.call("pm_targets:sys_path").result[1]
    path = ["--path", str(tmp_path), "--path", base[-1], "--path",
            str(other), "--path", str(tmp_path)]
    r = forkd.call("pm_targets:sys_path",
                   argv=["python:call", "pm_targets:sys_path"] + path)
    assert r.exitcode == 0 and r.result[1] == [str(tmp_path), str(other)] + base
    r = forkd.call("pm_beside:where", argv=[
        "python:call", "pm_beside:where"] + path +
        ["--", "app.py", "-v", "", "x y", "--path", "--"])
    assert r.exitcode == 0, r
    assert r.result[1] == (str(tmp_path / "pm_beside.py"),
                           ["app.py", "-v", "", "x y", "--path", "--"])
    r = forkd.call("pm_beside:where", argv=[
        "python:call", "pm_beside:where", "--path", str(tmp_path)])
    assert r.result[1][1] == ["python:call"]
    # The module is not found without the client's path: nothing stays.
    r = forkd.call("pm_beside:where")
    assert r.exitcode == 1 and isinstance(r.result[1], ImportError)
    forkd.assert_serving()


def test_allow_python_main(restricted):
    code, out, err = restricted.spawn_main("pm_main_mod", ["x"])
    assert code == 0 and out == b"name=__main__ argv=['x']\n"
    code, out, err = restricted.spawn_main("json.tool")
    assert code == 1 and b"not allowed" in err
    restricted.assert_serving()


# ---- start-up refusals --------------------------------------------------------

def test_failing_preload_stops_startup():
    code, out = run_forkd_until_exit("path=%s,import=json,pm_broken"
                                     % TARGETS)
    assert code == 1     # forkd's start-up error
    assert "Traceback (most recent call last)" in out
    assert "ImportError: pm_broken refuses to load" in out
    assert "preloading 'pm_broken' failed" in out


def test_missing_preload_stops_startup():
    code, out = run_forkd_until_exit("import=no_such_module_pm")
    assert code == 1     # forkd's start-up error
    assert "ModuleNotFoundError: No module named 'no_such_module_pm'" in out


def test_thread_at_import_refused():
    code, out = run_forkd_until_exit("path=%s,import=pm_thread" % TARGETS)
    assert code == 1     # forkd's start-up error
    assert "threads are running after preloading" in out
    assert "'pm-worker'" in out          # the Python thread, named
    assert "start threads in the target instead" in out


def _numpy_starts_threads(env):
    """Does importing numpy start threads here with env (OpenBLAS does,
    Debian's default netlib BLAS does not)?"""
    out = subprocess.run(
        [sys.executable, "-c", "import numpy, os; "
         "print(len(os.listdir('/proc/self/task')))"],
        env=env, stdout=subprocess.PIPE, check=True).stdout
    return int(out) > 1


def test_openblas_threads_refused():
    # With OPENBLAS_NUM_THREADS=2 set by the user, numpy's OpenBLAS starts
    # a pool at import: refused, naming the variable.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    if not _numpy_starts_threads(env):
        pytest.skip("numpy's BLAS here starts no thread at import "
                    "(netlib, not OpenBLAS)")
    code, out = run_forkd_until_exit("import=numpy", env=env)
    assert code != 0
    assert "threads are running after preloading" in out
    assert "OPENBLAS_NUM_THREADS=2" in out or "OMP_NUM_THREADS=2" in out


@pytest.mark.parametrize("opts,msg", [
    ("bogus=1", "unknown option 'bogus=1'"),
    ("gc_freeze=2", "bad gc_freeze"),
    ("json", "unknown option 'json'"),
    ("allow=", "empty allow= item"),
    ("path=/nonexistent-pm-dir", "is not a directory"),
    ("path=a::b", "empty directory name"),
])
def test_bad_options(opts, msg):
    code, out = run_forkd_until_exit(opts)
    assert code != 0 and msg in out, out


def test_allow_main_needs_a_main_pattern(tmp_path):
    # allow= without a pattern for __main__: no main script runs, not even
    # one inside path=, and not for a target in another module; the
    # target's name is checked before the script is imported.
    from conftest import _server, _finish
    inside = _write_main(TARGETS, "pm_main_nopat_%d.py" % os.getpid())
    marker = tmp_path / "ran"
    with open(inside, "a") as f:
        f.write("open(%r, 'w').close()\n" % str(marker))
    f = _server("path=%s,import=pm_targets,allow=pm_targets:*" % TARGETS)
    try:
        r = f.call("pm_targets:add", (1, 2), main=inside)
        assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
        assert "__main__" in r.result[3]
        r = f.call("__main__:where", main=inside)
        assert r.exitcode == 1 and isinstance(r.result[1], PermissionError)
        assert not marker.exists()
        f.assert_serving()
    finally:
        os.unlink(inside)
        _finish(f)


def test_preload_output_not_repeated_in_children():
    # Output a preload left in Python's buffers goes to forkd's stdout
    # once, at start-up, never into a child's stdout or stderr (gh-98552).
    from conftest import _server, _finish
    f = _server("path=%s,import=pm_targets,pm_chatty" % TARGETS)
    try:
        for _ in range(3):
            r = f.call("pm_targets:print_and_return", ("c",))
            assert (r.stdout, r.stderr) == (b"c", b"err:c")
            r = f.call("pm_targets:boom", pass_result=False)
            assert b"pm_chatty" not in r.stdout + r.stderr
        log = f.log()
    finally:
        _finish(f)
    assert log.count("pm_chatty-out") == 1 and log.count("pm_chatty-err") == 1


def test_unbuffered_like_the_interpreter():
    # Buffered by default: the text written first through sys.stdout
    # arrives after a raw write; with PYTHONUNBUFFERED in forkd's
    # environment, in order, as python -u would do.
    from conftest import _server, _finish
    f = _server("path=%s,import=pm_targets" % TARGETS)
    try:
        assert f.call("pm_targets:write_then_raw").stdout == b"rawtext"
    finally:
        _finish(f)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    f = _server("path=%s,import=pm_targets" % TARGETS, env=env)
    try:
        assert f.call("pm_targets:write_then_raw").stdout == b"textraw"
    finally:
        _finish(f)


def test_two_paths_and_users_thread_settings_win(tmp_path):
    # path=D1:D2 puts both first on sys.path, in order; a thread count the
    # user set in forkd's environment is kept, the others become 1.
    from conftest import _server, _finish
    (tmp_path / "pm_second.py").write_text("def hello():\n    return 'second'\n")
    env = dict(os.environ, MKL_NUM_THREADS="3")
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("OMP_NUM_THREADS", None)
    f = _server("path=%s:%s,import=pm_targets,pm_second" % (TARGETS, tmp_path),
                env=env)
    try:
        assert f.call("pm_second:hello").result == ("ok", "second")
        path = f.call("pm_targets:sys_path").result[1]
        assert path[:2] == [TARGETS, str(tmp_path)]
        e = f.call("pm_targets:whoami").result[1]["env"]
        assert e["MKL_NUM_THREADS"] == "3"
        assert e["OPENBLAS_NUM_THREADS"] == e["OMP_NUM_THREADS"] == "1"
    finally:
        _finish(f)


def test_forkd_package_preloaded_when_importable(tmp_path):
    # forkd's own package, found on the path, is preloaded: a main script
    # that starts forkd children imports it, and so does each child that
    # imports that script for a target defined there. A "forkd" that is
    # not the package (no _process.py) is not imported; one that fails to
    # import does not stop forkd.
    from conftest import _server, _finish
    real, fake, broken = (tmp_path / d for d in ("real", "fake", "broken"))
    for d, init in ((real, "MARK = 'package'\n"), (fake, "MARK = 'fake'\n"),
                    (broken, "raise ImportError('half built')\n")):
        (d / "forkd").mkdir(parents=True)
        (d / "forkd" / "__init__.py").write_text(init)
    (real / "forkd" / "_process.py").write_text("")
    (broken / "forkd" / "_process.py").write_text("")
    for d, want in ((real, "package"), (fake, None), (broken, None)):
        f = _server("path=%s:%s,import=pm_targets" % (TARGETS, d))
        try:
            r = f.call("pm_targets:module_attr", ("forkd", "MARK")).result
            assert r == ("ok", want), d
        finally:
            _finish(f)
