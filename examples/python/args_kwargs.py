#!/usr/bin/python3
"""Positional and keyword arguments reach the child: myProcess(42, 43,
myParam1=44), and the return value comes back with result()."""
import os

import forkd


def myProcess(a, b, myParam1=None):
    print("child %d: a=%r b=%r myParam1=%r" % (os.getpid(), a, b, myParam1))
    return a + b + myParam1


if __name__ == "__main__":
    p = forkd.Process(target=myProcess, args=(42, 43),
                      kwargs={"myParam1": 44})
    p.start()
    p.join()
    print("exitcode %d, returned %r" % (p.exitcode, p.result()))
