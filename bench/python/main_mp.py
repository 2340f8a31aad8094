#!/usr/bin/python3
"""main_mp.py forkserver|fork|spawn N: start+join of a no-op defined in
the main script, through multiprocessing, the way its documentation
writes it (bench_python.py runs it; main_forkd.py is its forkd twin).

Each forkserver or spawn child imports this script as __mp_main__ to find
the target, so it imports at the top only what such a script would. The
forkserver preloads numpy (set_forkserver_preload(["numpy"])). Prints the
N times, in seconds, as JSON.
"""

import json
import multiprocessing
import sys
import time

import numpy  # noqa: F401  (the heavy import; the forkserver preloads it)


def noop():
    return None


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    if sys.argv[1] == "forkserver":
        ctx.set_forkserver_preload(["numpy"])
    out = []
    for i in range(int(sys.argv[2]) + 3):
        t0 = time.perf_counter()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        dt = time.perf_counter() - t0
        if p.exitcode != 0:
            raise SystemExit("child failed: %r" % p.exitcode)
        p.close()
        if i >= 3:
            out.append(dt)
    json.dump(out, sys.stdout)
