#!/usr/bin/python3
"""A Process subclass whose run() runs in the child, as in multiprocessing.

The child runs run() on a pickled copy of the object, so the subclass is
defined at module level and its attributes pickle. What run() returns is
what result() gives back.

Run with forkd's python module loaded, FORKD_SOCKET and FORKD_KEY_FILE set:
    python3 examples/python/subclass.py
"""
import os

from forkd import Process


class Counter(Process):
    def __init__(self, upto, **kwargs):
        super().__init__(**kwargs)
        self.upto = upto

    def run(self):
        print("%s counting to %d in pid %d" % (self.name, self.upto,
                                              os.getpid()))
        return sum(range(self.upto + 1))


if __name__ == "__main__":
    p = Counter(100, name="counter")
    p.start()
    p.join()
    print("exitcode %d, run() returned %d" % (p.exitcode, p.result()))
