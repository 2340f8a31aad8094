"""Fixes from session 14's reviews of the package, as a new user meets
it: a virtual environment's packages, multiprocessing's positional
arguments, the key file's modes."""

import os
import subprocess
import sys

import pytest

import forkd
import pp_targets as t
from conftest import SLOW

T = 30 * SLOW

_VENV_APP = '''
import sys
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
