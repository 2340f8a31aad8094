#!/usr/bin/python3
"""The same pi through forkd.Executor, a concurrent.futures.Executor that
runs each task in a fresh child."""
import math

import numpy as np

import forkd

TERMS = 20_000_000
CHILDREN = 4


def leibniz(start, count):
    k = np.arange(start, start + count, dtype=np.float64)
    return float(np.sum(np.where(k % 2 == 0, 4.0, -4.0) / (2.0 * k + 1.0)))


if __name__ == "__main__":
    per = TERMS // CHILDREN
    with forkd.Executor(max_workers=CHILDREN) as ex:
        pi = sum(ex.map(leibniz, [i * per for i in range(CHILDREN)],
                        [per] * CHILDREN))
    print("pi    = %.12f through forkd.Executor" % pi)
    print("error = %.3e" % (pi - math.pi))
