"""Fixtures for the forkd package's tests: a real forkd on a temporary
socket with the python module preloading numpy, and the package from the
build tree.

Environment (ctest sets these; the defaults fit a ./build tree):
  FORKD_BIN                 the forkd binary
  FORKD_PYTHON_MODULE       python.so
  FORKD_PYTHON_PACKAGE_DIR  the directory holding the built forkd/ package
  FORKD_TEST_SLOW           timeout multiplier (sanitizer builds, busy hosts)
"""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
FORKD = os.environ.get("FORKD_BIN", os.path.join(BUILD, "daemon", "forkd"))
MODULE = os.environ.get("FORKD_PYTHON_MODULE",
                        os.path.join(BUILD, "modules", "python.so"))
PACKAGE_DIR = os.environ.get("FORKD_PYTHON_PACKAGE_DIR",
                             os.path.join(BUILD, "client", "python"))
EXAMPLES = os.path.join(ROOT, "examples", "python")
SLOW = float(os.environ.get("FORKD_TEST_SLOW", "1") or 1)

sys.dont_write_bytecode = True
sys.path.insert(0, PACKAGE_DIR)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))

import forkd  # noqa: E402
from forkd_testd import ForkdServer  # noqa: E402


class Forkd(ForkdServer):
    """forkd with the python module on a temporary socket."""

    def __init__(self, opts):
        super().__init__(FORKD, MODULE, opts, "forkd-pypkg.", slow=SLOW)

    def start(self):
        return self.launch(self._ready, OSError)

    def _ready(self):
        with self.connect() as c:
            c.ping()

    def connect(self):
        return forkd.connect(self.sock, self.keyfile)

    def env(self):
        """Environment for a script using this forkd by default."""
        env = dict(os.environ)
        env["FORKD_SOCKET"] = self.sock
        env["FORKD_KEY_FILE"] = self.keyfile
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_DIR, HERE])
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def cleanup(self):
        """Stop forkd if it runs and remove its directory."""
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(10 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def _paths():
    # The children import the test targets and, through scripts that
    # import forkd, the package itself.
    return ":".join([HERE, PACKAGE_DIR, EXAMPLES])


@pytest.fixture(scope="session")
def daemon():
    """forkd with the python module: numpy preloaded, any target allowed."""
    if not os.path.exists(MODULE):
        pytest.skip("the python module is not built (%s)" % MODULE)
    d = Forkd("path=%s,import=numpy" % _paths()).start()
    yield d
    rc = d.stop()
    log = d.log()
    d.cleanup()
    assert rc == 0, "forkd exited with %r:\n%s" % (rc, log)


@pytest.fixture(scope="session")
def restricted():
    """forkd whose python module allows only pp_targets:add,
    pp_targets:echo and pp_targets:shm_leave, and what
    Executor.map(chunksize > 1) needs."""
    if not os.path.exists(MODULE):
        pytest.skip("the python module is not built (%s)" % MODULE)
    d = Forkd("path=%s,import=numpy,allow=pp_targets:add,pp_targets:echo,"
              "pp_targets:shm_leave,forkd._executor:_run_chunk"
              % _paths()).start()
    yield d
    d.cleanup()


@pytest.fixture
def conn(daemon):
    """A connection to the session's forkd; afterwards forkd must still
    serve: a ping and a fresh child's result."""
    c = daemon.connect()
    yield c
    with daemon.connect() as c2:
        c2.ping()
        import pp_targets
        p = forkd.Process(target=pp_targets.add, args=(1, 2),
                          connection=c2)
        p.start()
        assert p.result(timeout=30 * SLOW) == 3
    c.close()
    assert daemon.proc.poll() is None, daemon.log()


@pytest.fixture
def default_env(daemon, monkeypatch):
    """FORKD_SOCKET / FORKD_KEY_FILE of the session's forkd, and a fresh
    default connection."""
    from forkd import _connection
    monkeypatch.setenv("FORKD_SOCKET", daemon.sock)
    monkeypatch.setenv("FORKD_KEY_FILE", daemon.keyfile)
    monkeypatch.setattr(_connection, "_default", None)
    yield daemon
