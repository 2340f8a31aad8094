#!/usr/bin/python3
"""main_forkd.py SOCKET KEYFILE N: start+join of a no-op defined in the
main script, through forkd.Process, the way a user's script is written
(bench_python.py runs it; main_mp.py is its multiprocessing twin).

Each child imports this script as __mp_main__ to find the target, so it
imports at the top only what such a script would. Prints the N times, in
seconds, as JSON.
"""

import json
import sys
import time

import numpy  # noqa: F401  (the heavy import; forkd preloads it)

import forkd


def noop():
    return None


if __name__ == "__main__":
    conn = forkd.connect(sys.argv[1], sys.argv[2])
    out = []
    for i in range(int(sys.argv[3]) + 3):
        t0 = time.perf_counter()
        p = forkd.Process(target=noop, connection=conn)
        p.start()
        p.join()
        dt = time.perf_counter() - t0
        if p.exitcode != 0:
            raise SystemExit("child failed: %r" % p.exitcode)
        p.close()
        if i >= 3:
            out.append(dt)
    json.dump(out, sys.stdout)
