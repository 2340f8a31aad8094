#!/usr/bin/python3
"""bench_python.py: forkd's Python package against multiprocessing, numpy
preloaded everywhere, medians side by side in one run (issue 14, 5).

    bench_python.py [--build DIR] [--tasks N] [--repeat R] [--slow-repeat S]
                    [--quick]

Starts its own forkd (DIR/daemon/forkd with DIR/modules/python.so preloading
numpy, the package from DIR/client/python) on a temporary socket, then:

  start+join   one trivial function: forkd.Process; multiprocessing
               forkserver with set_forkserver_preload(["numpy"]); fork from
               this process (numpy imported); spawn
  main script  the same, the function defined in the main script as the
               multiprocessing docs write it (main_forkd.py, main_mp.py):
               each child imports the script to find it
  map          N tiny tasks through map(): forkd.Executor (a fresh child per
               task) against ProcessPoolExecutor on forkserver with
               max_tasks_per_child=1, and with reused workers
  first byte   from start() to the child's first byte on a pipe: forkd
               against forkserver

Every pool gets cpu_count() workers. Prints medians (and quartiles for the
per-process timings); the machine and the load average go with them. Not
part of ctest: numbers, not pass/fail.
"""

import argparse
import compileall
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy  # noqa: F401  (preloaded everywhere: here, forkserver, forkd)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pybench_targets as tg  # noqa: E402


def quartiles(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else xs * 3
    return q[0], statistics.median(xs), q[2]


def precompile(build):
    """Write the bytecode caches of the bench's scripts and of the forkd
    package, as a user's own runs would have left them: a child that
    imports a module (a target's, a main script) then reads its .pyc.
    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes) nothing else
    writes them, and every forkd child compiled its target's module from
    source (0.4 ms here); forkserver's children compile their main script
    anyway (runpy.run_path() keeps no cache)."""
    for d in (HERE, os.path.join(build, "client", "python", "forkd")):
        compileall.compile_dir(d, maxlevels=0, quiet=1)


def start_forkd(build):
    precompile(build)
    tmp = tempfile.mkdtemp(prefix="forkd-pybench.")
    sock = os.path.join(tmp, "forkd.sock")
    key = os.path.join(tmp, "authkey")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    pkg = os.path.join(build, "client", "python")
    opts = "path=%s:%s,import=numpy" % (HERE, pkg)
    log = open(os.path.join(tmp, "forkd.log"), "wb")
    proc = subprocess.Popen(
        [os.path.join(build, "daemon", "forkd"), "-s", sock, "-k", key,
         "-m", "%s:%s" % (os.path.join(build, "modules", "python.so"),
                          opts)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    import forkd
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = forkd.connect(sock, key)
            conn.ping()
            return proc, conn, tmp
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("forkd did not start; see %s" % tmp)
            time.sleep(0.05)


def time_start_join(make, n, warm=3):
    out = []
    for i in range(n + warm):
        t0 = time.perf_counter()
        p = make()
        p.start()
        p.join()
        dt = time.perf_counter() - t0
        if p.exitcode != 0:
            raise SystemExit("child failed: %r" % p.exitcode)
        if i >= warm:
            out.append(dt)
    return out


def print_times(title, per):
    """A table of per-process times (seconds) under title: quartiles in
    ms, and each median as a multiple of forkd.Process's."""
    base = statistics.median(per["forkd.Process"])
    print("\n" + title)
    for k, xs in per.items():
        q1, med, q3 = quartiles(xs)
        print("  %-32s %8.3f / %8.3f / %8.3f  n=%-4d %6.1fx"
              % (k, q1 * 1e3, med * 1e3, q3 * 1e3, len(xs), med / base))


def run_main_script(argv, env):
    """Run bench/python/ARGV[0] with ARGV[1:] (one of the main_*.py
    scripts); the times it prints."""
    r = subprocess.run([sys.executable, os.path.join(HERE, argv[0])] +
                       argv[1:], env=env, stdout=subprocess.PIPE,
                       check=True, timeout=600)
    return json.loads(r.stdout)


def time_map(make_executor, tasks, repeat):
    out = []
    for _ in range(repeat):
        with make_executor() as ex:
            # One task first, so pool set-up is not counted.
            list(ex.map(tg.square, [1]))
            t0 = time.perf_counter()
            r = list(ex.map(tg.square, range(tasks)))
            dt = time.perf_counter() - t0
        assert r[-1] == (tasks - 1) ** 2
        out.append(tasks / dt)
    return out


def time_first_byte_forkd(forkd, conn, n, warm=3):
    out = []
    for i in range(n + warm):
        r, w = os.pipe()
        t0 = time.perf_counter()
        p = forkd.Process(target=tg.first_byte_fd, connection=conn,
                          stdout=w)
        p.start()
        os.close(w)
        os.read(r, 1)
        dt = time.perf_counter() - t0
        p.join()
        os.close(r)
        if i >= warm:
            out.append(dt)
    return out


def time_first_byte_mp(ctx, n, warm=3):
    out = []
    for i in range(n + warm):
        r, w = ctx.Pipe(duplex=False)
        t0 = time.perf_counter()
        p = ctx.Process(target=tg.first_byte_conn, args=(w,))
        p.start()
        r.recv_bytes()
        dt = time.perf_counter() - t0
        p.join()
        r.close()
        w.close()
        if i >= warm:
            out.append(dt)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..",
                                                    "build"))
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each map benchmark (default 3)")
    ap.add_argument("--slow-repeat", type=int, default=1,
                    help="runs of the forkserver max_tasks_per_child=1 map "
                    "(default 1: about 2 minutes for 2000 tasks)")
    ap.add_argument("--quick", action="store_true",
                    help="few iterations: a smoke test, not a measurement")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(build, "client", "python"))
    import forkd

    n_forkd, n_fork, n_fs, n_spawn = (200, 200, 60, 15)
    if a.quick:
        n_forkd, n_fork, n_fs, n_spawn = (10, 10, 5, 3)
        a.tasks, a.repeat, a.slow_repeat = 100, 1, 1
    workers = forkd.cpu_count()

    proc, conn, tmp = start_forkd(build)
    fs = mp.get_context("forkserver")
    fs.set_forkserver_preload(["numpy"])
    fork = mp.get_context("fork")
    spawn = mp.get_context("spawn")
    try:
        print("machine: %s, %d CPUs usable, Python %s, numpy %s"
              % (platform.processor() or platform.machine(), workers,
                 platform.python_version(), numpy.__version__))
        print("load average before: %s" % open("/proc/loadavg").read()
              .split()[:3])
        print("bytecode caches written ahead (precompile()); "
              "PYTHONDONTWRITEBYTECODE=%s"
              % os.environ.get("PYTHONDONTWRITEBYTECODE", "(unset)"))

        per = {}
        per["forkd.Process"] = time_start_join(
            lambda: forkd.Process(target=tg.noop, connection=conn), n_forkd)
        per["forkserver (numpy preloaded)"] = time_start_join(
            lambda: fs.Process(target=tg.noop), n_fs)
        per["fork (parent imported numpy)"] = time_start_join(
            lambda: fork.Process(target=tg.noop), n_fork)
        per["spawn"] = time_start_join(
            lambda: spawn.Process(target=tg.noop), n_spawn)
        print_times("start+join of a trivial function (ms: q1 / median / "
                    "q3, n; x = median / forkd's)", per)

        # The same with the target in the main script, as the
        # multiprocessing docs write it: each child imports the script.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.join(build, "client", "python"), HERE]))
        per = {}
        per["forkd.Process"] = run_main_script(
            ["main_forkd.py", conn.socket, conn.key, str(n_forkd)], env)
        for how, n in (("forkserver", n_fs), ("fork", n_fork),
                       ("spawn", n_spawn)):
            per[how] = run_main_script(["main_mp.py", how, str(n)], env)
        print_times("start+join of a trivial function defined in the main "
                    "script (main_forkd.py, main_mp.py; ms, as above)", per)

        thr = {}
        thr["forkd.Executor (fresh child)"] = time_map(
            lambda: forkd.Executor(workers, connection=conn), a.tasks,
            a.repeat)
        thr["PPE forkserver, max_tasks_per_child=1"] = time_map(
            lambda: ProcessPoolExecutor(workers, mp_context=fs,
                                        max_tasks_per_child=1),
            a.tasks, a.slow_repeat)
        thr["PPE forkserver, reused workers"] = time_map(
            lambda: ProcessPoolExecutor(workers, mp_context=fs), a.tasks,
            a.repeat)
        base = statistics.median(thr["forkd.Executor (fresh child)"])
        print("\n%d tiny tasks through map(), %d workers (tasks/s: "
              "median of the runs; x = forkd's / this)"
              % (a.tasks, workers))
        for k, xs in thr.items():
            med = statistics.median(xs)
            print("  %-40s %9.0f tasks/s  %6.2fx  runs=%d"
                  % (k, med, base / med, len(xs)))

        fb = {}
        fb["forkd.Process"] = time_first_byte_forkd(forkd, conn, n_forkd)
        fb["forkserver (numpy preloaded)"] = time_first_byte_mp(fs, n_fs)
        print_times("first byte of output from the child, from start() "
                    "(ms: q1 / median / q3)", fb)
        print("\nload average after: %s" % open("/proc/loadavg").read()
              .split()[:3])
    finally:
        conn.close()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
