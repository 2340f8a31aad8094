#!/usr/bin/python3
"""pi from four children, each summing a quarter of the Leibniz series with
numpy (preloaded in forkd), results returned to the parent."""
import math
import time

import numpy as np

import forkd

TERMS = 20_000_000
CHILDREN = 4


def leibniz(start, count):
    k = np.arange(start, start + count, dtype=np.float64)
    return float(np.sum(np.where(k % 2 == 0, 4.0, -4.0) / (2.0 * k + 1.0)))


if __name__ == "__main__":
    per = TERMS // CHILDREN
    t0 = time.monotonic()
    procs = [forkd.Process(target=leibniz, args=(i * per, per))
             for i in range(CHILDREN)]
    for p in procs:
        p.start()
    parts = [p.result() for p in procs]
    pi = sum(parts)
    print("pi    = %.12f from %d children in %.3f s"
          % (pi, CHILDREN, time.monotonic() - t0))
    print("error = %.3e" % (pi - math.pi))
