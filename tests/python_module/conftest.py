"""Fixtures for the python module's tests: a real forkd on a temporary
socket with build/modules/python.so preloading numpy, driven by the
independent client in tests/pyclient.

Environment (ctest sets these; the defaults fit a ./build tree):
  FORKD_BIN             the forkd binary
  FORKD_PYTHON_MODULE   python.so
  FORKD_TEST_SLOW       timeout multiplier (sanitizer builds, busy hosts)
"""

import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGETS = os.path.join(HERE, "targets")
sys.path.insert(0, os.path.join(ROOT, "tests", "pyclient"))
sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
sys.dont_write_bytecode = True

import forkd_client as fc  # noqa: E402
from forkd_testd import ForkdServer  # noqa: E402

FORKD = os.environ.get("FORKD_BIN",
                       os.path.join(ROOT, "build", "daemon", "forkd"))
MODULE = os.environ.get("FORKD_PYTHON_MODULE",
                        os.path.join(ROOT, "build", "modules", "python.so"))
SLOW = float(os.environ.get("FORKD_TEST_SLOW", "1") or 1)


def _read_all(fd, out):
    """Read fd to EOF into the list out (one bytes object), close it."""
    chunks = []
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    out.append(b"".join(chunks))


class Result:
    """What one python:call child did."""

    def __init__(self, exitcode, result, stdout, stderr):
        self.exitcode = exitcode
        self.result = result            # the unpickled fd 4 tuple, or None
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return ("Result(exitcode=%r, result=%r, stdout=%r..., stderr=%r)"
                % (self.exitcode, self.result if not isinstance(
                    self.result, tuple) or len(repr(self.result)) < 400
                    else "<big>", self.stdout[:200], self.stderr[-2000:]))


class Forkd(ForkdServer):
    """A forkd process with the python module, on a temporary socket."""

    def __init__(self, opts, extra_args=(), env=None):
        super().__init__(FORKD, MODULE, opts, "forkd-pymod.", extra_args,
                         SLOW)
        # No __pycache__ in the source tree from the children's imports.
        self.env = dict(env if env is not None else os.environ,
                        PYTHONDONTWRITEBYTECODE="1")
        # Buffered stdio, the default, unless a test asks for unbuffered.
        if env is None or "PYTHONUNBUFFERED" not in env:
            self.env.pop("PYTHONUNBUFFERED", None)
        self.conn = None

    def start(self):
        """Start forkd and wait until it answers; raises if it exits."""
        return self.launch(self._ready, (OSError, fc.ForkdError), self.env)

    def _ready(self):
        """Connect and ping; self.conn is the connection once it answers."""
        self.conn = fc.connect(self.sock, self.key, timeout=10 * SLOW)
        try:
            self.conn.ping(b"ready?")
        except BaseException:
            self.conn.close()
            self.conn = None
            raise

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def call(self, target, args=(), kwargs=None, main=None, argv=None,
             env=None, payload=None, pass_args=True, pass_result=True,
             stdin=None, timeout=60, extra_fds=None):
        """Run python:call TARGET; write (args, kwargs) on fd 3 while the
        child reads it, and read fd 4, stdout and stderr while it writes
        them (threads), so neither side can block on a full pipe."""
        if argv is None:
            argv = ["python:call", target]
            if main is not None:
                argv += ["--main", main]
        fds = {}
        ours = []               # our ends, read or written by threads
        theirs = []             # the child's ends, closed after the spawn
        out, err, res = [], [], []
        readers = []
        for child_fd, sink in ((1, out), (2, err)):
            r, w = os.pipe()
            fds[child_fd] = w
            theirs.append(w)
            readers.append(threading.Thread(target=_read_all, args=(r, sink)))
        if stdin is not None:
            r, w = os.pipe()
            fds[0] = r
            theirs.append(r)
            ours.append(("write", w, stdin))
        if pass_args:
            r, w = os.pipe()
            fds[3] = r
            theirs.append(r)
            data = payload if payload is not None else \
                pickle.dumps((tuple(args), dict(kwargs or {})),
                             pickle.HIGHEST_PROTOCOL)
            ours.append(("write", w, data))
        if pass_result:
            r, w = os.pipe()
            fds[4] = w
            theirs.append(w)
            readers.append(threading.Thread(target=_read_all, args=(r, res)))
        fds.update(extra_fds or {})
        try:
            pid, _ = self.conn.spawn("python:call", argv=argv, fds=fds,
                                     env=env)
        finally:
            for fd in theirs:
                os.close(fd)
        writers = []
        for _, w, data in ours:
            writers.append(threading.Thread(target=_write_all,
                                            args=(w, data)))
        for t in readers + writers:
            t.daemon = True
            t.start()
        info = self.conn.wait(pid, int(timeout * SLOW * 1000))
        for t in readers + writers:
            t.join(timeout * SLOW)
            assert not t.is_alive(), "a pipe to the child stayed open"
        result = pickle.loads(res[0]) if pass_result and res[0] else None
        return Result(info["exitcode"], result, out[0], err[0])

    def spawn_main(self, module, args=(), env=None, timeout=60):
        """Run python:main MODULE ARGS...; (exitcode, stdout, stderr)."""
        out, err = [], []
        fds, readers = {}, []
        for child_fd, sink in ((1, out), (2, err)):
            r, w = os.pipe()
            fds[child_fd] = w
            readers.append(threading.Thread(target=_read_all, args=(r, sink),
                                            daemon=True))
        try:
            pid, _ = self.conn.spawn("python:main",
                                     argv=["python:main", module] + list(args),
                                     fds=fds, env=env)
        finally:
            for w in fds.values():
                os.close(w)
        for t in readers:
            t.start()
        info = self.conn.wait(pid, int(timeout * SLOW * 1000))
        for t in readers:
            t.join(timeout * SLOW)
        return info["exitcode"], out[0], err[0]

    def assert_serving(self):
        """forkd is up and a python:call still works."""
        assert self.alive(), self.log()
        r = self.call("pm_targets:add", (20, 22))
        assert (r.exitcode, r.result) == (0, ("ok", 42)), r

    def stop(self):
        """SIGTERM; returns forkd's exit status."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_all(fd, data):
    """Write data to fd and close it; a child that stopped reading is not
    an error here (the test looks at the child's result)."""
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:1 << 20])
            view = view[n:]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def run_forkd_until_exit(opts, env=None, timeout=60):
    """Start forkd with the python module and opts, expecting it to refuse
    to start; returns (exit status, its stderr/stdout text)."""
    f = Forkd(opts, env=env)
    try:
        p = subprocess.run(f.cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=f.tmp, env=f.env, timeout=timeout * SLOW)
        return p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        raise AssertionError("forkd did not exit: it started with %r (%r)"
                             % (opts, e.output))
    finally:
        f.cleanup()


def _server(opts, extra=(), env=None):
    f = Forkd(opts, extra, env)
    try:
        f.start()
    except BaseException:
        f.stop()
        f.cleanup()
        raise
    return f


def _finish(f):
    status = f.stop()
    log = f.log()
    f.cleanup()
    assert status == 0, "forkd exited with %r:\n%s" % (status, log)


@pytest.fixture(scope="module")
def forkd():
    """forkd preloading numpy and the test targets, no allow=."""
    env = dict(os.environ)
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(v, None)
    f = _server("path=%s,import=numpy,logging,concurrent.futures,pm_targets"
                % TARGETS, env=env)
    yield f
    _finish(f)


@pytest.fixture(scope="module")
def forkd_nopool():
    """The same without the pre-forked pool (children forked by forkd)."""
    f = _server("path=%s,import=numpy,pm_targets" % TARGETS, ["--pool", "0"])
    yield f
    _finish(f)


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    """forkd with allow= set (a restricted policy)."""
    f = _server("path=%s,import=numpy,pm_targets,allow=pm_targets:*,"
                "__main__:*,pm_main_mod:__main__,"
                "numpy.core.numeric:_frombuffer,numpy:dtype" % TARGETS)
    yield f
    _finish(f)


@pytest.fixture(scope="module")
def nofreeze():
    """forkd with gc_freeze=0."""
    f = _server("path=%s,import=pm_targets,gc_freeze=0" % TARGETS)
    yield f
    _finish(f)
