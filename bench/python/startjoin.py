#!/usr/bin/python3
"""startjoin.py: forkd.Process start() and join() of a no-op, split, with
an optional pause between spawns (issue 14, 5).

    startjoin.py [--build DIR] [-n N] [--gap SECONDS] [--label TEXT]

Starts its own forkd (as bench_python.py does: DIR/daemon/forkd with
DIR/modules/python.so preloading numpy) and runs N start()+join() of
pybench_targets.noop. Prints the medians of start() (the spawn's reply),
of join() (from there to the exit status) and of the whole, and the
machine's CPU time per cycle (/proc/stat, every process: forkd, its
zygote and pool, the children, this client and whatever else runs).
--gap pauses between spawns, so that the CPU a child's exit and the pool's
refill take is free again before the next spawn (back to back, they
compete with it on a small machine). Run two builds one after the other
to compare them; numbers, not pass/fail.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_python as bp  # noqa: E402
import pybench_targets as tg  # noqa: E402


def busy_ticks():
    """Clock ticks every CPU spent not idle, since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..",
                                                     "build"))
    ap.add_argument("-n", type=int, default=300, help="spawns (300)")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds between spawns (0)")
    ap.add_argument("--label", default="", help="printed with the result")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(build, "client", "python"))
    proc, conn, tmp = bp.start_forkd(build)
    import forkd
    warm = 5
    start, join, total = [], [], []
    hz = os.sysconf("SC_CLK_TCK")
    try:
        c0 = busy_ticks()
        for i in range(a.n + warm):
            t0 = time.perf_counter()
            p = forkd.Process(target=tg.noop, connection=conn)
            p.start()
            t1 = time.perf_counter()
            p.join()
            t2 = time.perf_counter()
            if p.exitcode != 0:
                raise SystemExit("child failed: %r" % p.exitcode)
            p.close()
            if a.gap:
                time.sleep(a.gap)
            if i >= warm:
                start.append(t1 - t0)
                join.append(t2 - t1)
                total.append(t2 - t0)
        cpu = (busy_ticks() - c0) * 1000.0 / hz / (a.n + warm)
    finally:
        proc.terminate()
        proc.wait()
        bp.shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda x: statistics.median(x) * 1000  # noqa: E731
    print("%sstart %.3f  join %.3f  start+join %.3f ms (medians, n=%d, "
          "gap %g s)  CPU per cycle %.2f ms  load %s"
          % (a.label + ": " if a.label else "", ms(start), ms(join),
             ms(total), a.n, a.gap, cpu, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
