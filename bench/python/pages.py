#!/usr/bin/python3
"""pages.py: which preloaded pages a python:call child makes its own, and
what one such page costs on this machine (issue 14, section 5).

    /usr/bin/python3 bench/python/pages.py [--build DIR] [--rounds N]

Starts its own forkd as bench_python.py does (DIR/daemon/forkd with
DIR/modules/python.so preloading numpy), then prints, per mapping, the
pages that are present and exclusive (copied on write, or new: bit 56 of
/proc/PID/pagemap) in:

  zygote     the process every pool child is forked from;
  idle pool  a pool child after its warm-up (forkd_module_pool_warm()
             copied the pages the page probe saw a call write);
  call       a forkd.Process child while its target (time.sleep) runs:
             the warm-up plus what the call itself wrote.

Then the cost of one copy-on-write fault here: a child forked from this
process (numpy imported) writes one byte in each of N pages of a private
anonymous mapping, and the time per page is the median over the rounds.
Fork-per-task pays this for every page a task writes, off or on the
spawn's path. Numbers, not pass/fail; not part of ctest. Run as root or
as the user forkd runs as (pagemap's flags of another user's process are
not readable).
"""

import argparse
import mmap
import os
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_python as bp  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63
EXCLUSIVE = 1 << 56


def census(pid):
    """{mapping name: [exclusive, present]} of pid's private writable
    mappings (mappings over 1 GiB, reserved address space, skipped)."""
    out = {}
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/pagemap" % pid, "rb") as pm:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1] != "rw-p" or hi - lo > 1 << 30:
                continue
            name = os.path.basename(f[5]) if len(f) > 5 else "[anon]"
            pm.seek(lo // PAGE * 8)
            data = pm.read((hi - lo) // PAGE * 8)
            ex = pr = 0
            for (e,) in struct.iter_unpack("Q", data):
                if e & PRESENT:
                    pr += 1
                    if e & EXCLUSIVE:
                        ex += 1
            c = out.setdefault(name, [0, 0])
            c[0] += ex
            c[1] += pr
    return out


def children_of(pid, comm):
    """Pids of pid's children whose comm is comm."""
    got = []
    for p in subprocess.run(["pgrep", "-P", str(pid)], text=True,
                            stdout=subprocess.PIPE).stdout.split():
        try:
            with open("/proc/%s/comm" % p) as f:
                if f.read().strip() == comm:
                    got.append(int(p))
        except OSError:
            pass
    return got


def show(title, c):
    total = sum(v[0] for v in c.values())
    print("\n%s: %d pages exclusive (%.1f MiB)" % (title, total,
                                                    total * PAGE / 2**20))
    for name, (ex, pr) in sorted(c.items(), key=lambda kv: -kv[1][0]):
        if ex:
            print("  %6d of %6d present  %s" % (ex, pr, name))


def cow_cost(npages, rounds):
    """Median microseconds per copy-on-write fault in a forked child."""
    m = mmap.mmap(-1, npages * PAGE, flags=mmap.MAP_PRIVATE |
                  mmap.MAP_ANONYMOUS)
    for i in range(npages):
        m[i * PAGE] = 1
    per = []
    for _ in range(rounds):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            t0 = time.perf_counter()
            for i in range(npages):
                m[i * PAGE] = 2
            dt = time.perf_counter() - t0
            os.write(w, struct.pack("d", dt))
            os._exit(0)
        os.close(w)
        dt = struct.unpack("d", os.read(r, 8))[0]
        os.close(r)
        os.waitpid(pid, 0)
        per.append(dt / npages * 1e6)
    m.close()
    return statistics.median(per)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..",
                                                     "build"))
    ap.add_argument("--rounds", type=int, default=15,
                    help="forks for the per-page cost (15)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(build, "client", "python"))
    print("machine: %s, %d CPUs usable, load average %s"
          % (os.uname().release, len(os.sched_getaffinity(0)),
             os.getloadavg()))
    proc, conn, tmp = bp.start_forkd(build)
    import forkd
    try:
        time.sleep(1.0)         # the pool fills and warms up
        zyg = children_of(proc.pid, "forkd-zygote")
        pool = children_of(proc.pid, "forkd-pool")
        if zyg:
            show("zygote %d" % zyg[0], census(zyg[0]))
        if pool:
            show("idle pool child %d" % pool[0], census(pool[0]))
        p = forkd.Process(target=time.sleep, args=(3,), connection=conn)
        p.start()
        time.sleep(1.0)
        show("call child %d (time.sleep running)" % p.pid, census(p.pid))
        p.join()
    finally:
        proc.terminate()
        proc.wait()
        bp.shutil.rmtree(tmp, ignore_errors=True)
    import numpy  # noqa: F401  (the parent of the forks below)
    for n in (64, 1024):
        print("\ncopy-on-write: %.2f us per page (%d pages written by a "
              "child of a numpy process, median of %d forks)"
              % (cow_cost(n, a.rounds), n, a.rounds))


if __name__ == "__main__":
    main()
