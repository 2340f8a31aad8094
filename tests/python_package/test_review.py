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
