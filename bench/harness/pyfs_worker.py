"""Python multiprocessing forkserver anchor for forkd's benchmark harness.

Driven by forkd-bench over stdin/stdout, one measurement per command, so
its runs interleave with forkd's and the other anchors':

    ttfi   Process(target=first).start(); time until the child's first
           byte arrives on a pipe the parent reads (the child writes it as
           its first act); then join()
    cycle  Process(target=noop).start(); join(); check the exit code
    quit

Each answer is one line: nanoseconds, or "error: ...". Timing is done here,
in-process, with time.perf_counter_ns(). The state (pyfs_state, size from
$FORKD_BENCH_STATE_MB) is preloaded in the forkserver with
set_forkserver_preload() (with "__main__", so children do not import this
script again); a check at start-up proves the preload happened (a failed
preload is silently ignored by multiprocessing).
"""
import multiprocessing as mp
import os
import platform
import sys
import time


def noop():
    pass


def first(w):
    os.write(w.fileno(), b"x")


def check_state(expect_mb):
    mod = sys.modules.get("pyfs_state")
    if mod is None or mod.SIZE_MB != expect_mb or \
            len(mod.STATE) != expect_mb << 20:
        os._exit(3)


def main():
    mb = int(os.environ.get("FORKD_BENCH_STATE_MB", "0"))
    # The forkserver is a fresh interpreter whose sys.path does not hold
    # this directory (3.11 ignores the sys_path it is handed), and a preload
    # that fails to import is skipped without a word: say where it is.
    here = os.path.dirname(os.path.abspath(__file__))
    pp = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = here + (os.pathsep + pp if pp else "")
    ctx = mp.get_context("forkserver")
    # "__main__" too: Python's best case, children do not re-import this
    # script (set_forkserver_preload's documented use).
    ctx.set_forkserver_preload(["__main__", "pyfs_state"])
    r, w = ctx.Pipe(duplex=False)
    rfd = r.fileno()

    # Start the forkserver (it imports pyfs_state) and check the preload.
    p = ctx.Process(target=check_state, args=(mb,))
    p.start()
    p.join()
    if p.exitcode != 0:
        print("error: pyfs_state was not preloaded in the forkserver "
              "(check exited %r)" % p.exitcode, flush=True)
        return 1
    print("ready %d %s" % (os.getpid(), platform.python_version()),
          flush=True)

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "ttfi":
            t0 = time.perf_counter_ns()
            p = ctx.Process(target=first, args=(w,))
            p.start()
            b = os.read(rfd, 1)
            t1 = time.perf_counter_ns()
            p.join()
            if b != b"x" or p.exitcode != 0:
                print("error: ttfi child exit %r" % p.exitcode, flush=True)
                continue
        elif cmd == "cycle":
            t0 = time.perf_counter_ns()
            p = ctx.Process(target=noop)
            p.start()
            p.join()
            t1 = time.perf_counter_ns()
            if p.exitcode != 0:
                print("error: cycle child exit %r" % p.exitcode, flush=True)
                continue
        elif cmd == "quit" or cmd == "":
            break
        else:
            print("error: unknown command %r" % cmd, flush=True)
            continue
        sys.stdout.write("%d\n" % (t1 - t0))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
