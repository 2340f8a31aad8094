#!/usr/bin/python3
"""Hello Process World: multiprocessing's first example, with forkd.Process.

Run with forkd's python module loaded, FORKD_SOCKET and FORKD_KEY_FILE set:
    python3 examples/python/hello.py
"""
from forkd import Process


def f(name):
    print("hello", name)


if __name__ == "__main__":
    p = Process(target=f, args=("bob",))
    p.start()
    p.join()
