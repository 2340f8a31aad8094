#!/usr/bin/python3
"""floor.py: CPU per task, every process counted, and what it bounds
(issue 14, 5: the Executor's throughput against forkserver's).

    floor.py [--build DIR] [--tasks N] [--fs-tasks M]

With a fresh process per task and the CPUs saturated, throughput is the
machine's CPUs divided by the CPU time one task costs, in every process it
involves: the client, the server, the fork, the child's own work and its
exit. So on one machine, one run, this prints for each way of running N
tiny tasks (numpy imported everywhere) its wall time and its CPU per task
(/proc/stat: every CPU's non-idle time, whichever process used it):

  fork          os.fork() from this process, the child os._exit(0)s at
                once, waitpid(): the kernel's cost of a process with this
                image, the floor of any fork-per-task server
  forkd.Process start()+join() of a trivial function, one at a time
  forkd.Executor map(), cpu_count() workers, a fresh child per task
  forkserver    ProcessPoolExecutor on forkserver (numpy preloaded) with
                max_tasks_per_child=1, cpu_count() workers (M tasks)

and the ratio forkserver's CPU per task / the floor's: the most any server
that forks a process per task could gain over forkserver on this machine
when the CPUs are the limit. Numbers, not pass/fail; not part of ctest.
"""

import argparse
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy  # noqa: F401  (the image every child starts from)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_python as bp  # noqa: E402
import pybench_targets as tg  # noqa: E402


def busy_ticks():
    """Clock ticks every CPU spent neither idle nor waiting nor stolen."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4] - v[7]


def measure(run, tasks):
    """(wall ms per task, CPU ms per task) of run(), which runs tasks."""
    hz = os.sysconf("SC_CLK_TCK")
    c0, t0 = busy_ticks(), time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    cpu = (busy_ticks() - c0) / hz
    return wall * 1000 / tasks, cpu * 1000 / tasks


def forks(n):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..",
                                                     "build"))
    ap.add_argument("--tasks", type=int, default=1000,
                    help="tasks for fork and forkd (1000)")
    ap.add_argument("--fs-tasks", type=int, default=300,
                    help="tasks for forkserver (300: about 5 s each)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(build, "client", "python"))
    import forkd
    workers = len(os.sched_getaffinity(0))
    fs = mp.get_context("forkserver")
    fs.set_forkserver_preload(["numpy"])
    proc, conn, tmp = bp.start_forkd(build)
    n, m = a.tasks, a.fs_tasks
    rows = []
    try:
        print("machine: %d CPUs usable, load average before: %s"
              % (workers, open("/proc/loadavg").read().split()[:3]))

        def one_by_one():
            for _ in range(n):
                p = forkd.Process(target=tg.square, args=(3,),
                                  connection=conn)
                p.start()
                p.join()
                p.close()

        def executor():
            with forkd.Executor(workers, connection=conn) as ex:
                assert sum(ex.map(tg.square, range(n))) > 0

        def forkserver():
            with ProcessPoolExecutor(workers, mp_context=fs,
                                     max_tasks_per_child=1) as ex:
                assert sum(ex.map(tg.square, range(m))) > 0

        forks(20)
        with forkd.Executor(workers, connection=conn) as ex:
            list(ex.map(tg.square, range(20)))
        for name, fn, k in (("fork", lambda: forks(n), n),
                            ("forkd.Process", one_by_one, n),
                            ("forkd.Executor", executor, n),
                            ("forkserver", forkserver, m)):
            rows.append((name,) + measure(fn, k) + (k,))
    finally:
        proc.terminate()
        proc.wait()
        bp.shutil.rmtree(tmp, ignore_errors=True)
    cpu = {r[0]: r[2] for r in rows}
    print("%-16s %12s %12s %6s" % ("", "wall ms/task", "CPU ms/task", "n"))
    for name, wall, c, k in rows:
        print("%-16s %12.3f %12.3f %6d" % (name, wall, c, k))
    print("forkserver CPU / fork CPU: %.1fx (the most a fork-per-task "
          "server gains over forkserver here when the CPUs are the limit)"
          % (cpu["forkserver"] / cpu["fork"]))
    print("forkserver CPU / forkd.Executor CPU: %.1fx"
          % (cpu["forkserver"] / cpu["forkd.Executor"]))
    print("load average after: %s"
          % open("/proc/loadavg").read().split()[:3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
