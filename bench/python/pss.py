#!/usr/bin/python3
"""pss.py: summed PSS of N idle python:call children of forkd's python
module, with and without gc.freeze() (issue 14, section 5).

    /usr/bin/python3 bench/python/pss.py [--build build] [-n 20]
        [--rounds 3] [--import numpy]

For gc_freeze=1 (the default) and gc_freeze=0 it starts forkd on a
temporary socket with build/modules/python.so preloading numpy and this
file (the targets below), spawns N children and, once each has said it is
ready, sums Pss from /proc/PID/smaps_rollup. Two workloads:

  idle   the child only sleeps;
  gc     the child runs one full collection (gc.collect()), then sleeps:
         what happens in any child that allocates enough for the collector
         to reach the oldest generation. Without gc.freeze() the collector
         writes to every tracked object's header, so the pages holding the
         preloaded heap are copied into that child.

Prints the median over the rounds per workload and setting (MiB), and the
ratio. Not part of ctest; it reports numbers, it does not pass or fail.
Driven by the independent client in tests/pyclient (standard library).
"""

import argparse
import gc
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def idle():
    """Target: say ready on stdout, then sleep until killed."""
    os.write(1, b"r")
    while True:
        time.sleep(3600)


def collect():
    """Target: one full collection, say ready, sleep until killed."""
    gc.collect()
    os.write(1, b"r")
    while True:
        time.sleep(3600)


def pss_kib(pid):
    """Pss of pid in KiB (smaps_rollup)."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss line for pid %d" % pid)


class Server:
    """forkd with the python module, on a temporary socket."""

    def __init__(self, args, freeze):
        import forkd_client as fc
        self.fc = fc
        self.tmp = tempfile.mkdtemp(prefix="forkd-pss.")
        self.sock = os.path.join(self.tmp, "s")
        key = os.path.join(self.tmp, "key")
        self.key = os.urandom(32)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        imports = ",".join(args.imports + ["pss"])
        opts = "path=%s,import=%s,gc_freeze=%d" % (HERE, imports, freeze)
        cmd = [args.forkd, "-q", "-s", self.sock, "-k", key,
               "--pool", "0", "-m", "%s:%s" % (args.module, opts)]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("forkd exited with %d" % self.proc.returncode)
            try:
                self.conn = fc.connect(self.sock, self.key, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def measure(self, target, n):
        """Spawn n children of target, wait until all are ready, return
        (summed PSS of the children in KiB, forkd's own PSS in KiB)."""
        pids, pipes = [], []
        try:
            for _ in range(n):
                r, w = os.pipe()
                try:
                    pid, _ = self.conn.spawn(
                        "python:call", argv=["python:call", "pss:" + target],
                        fds={1: w})
                finally:
                    os.close(w)
                pids.append(pid)
                pipes.append(r)
            for r in pipes:
                if os.read(r, 1) != b"r":
                    raise RuntimeError("a child died before it was ready")
            time.sleep(0.2)
            total = sum(pss_kib(p) for p in pids)
            return total, pss_kib(self.proc.pid)
        finally:
            for p in pids:
                try:
                    self.conn.signal(p, signal.SIGKILL)
                except self.fc.ForkdError:
                    pass
            for p in pids:
                self.conn.wait(p, 10000)
            for r in pipes:
                os.close(r)

    def stop(self):
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        for name in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build tree (default ./build)")
    ap.add_argument("-n", type=int, default=20, help="children (20)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    ap.add_argument("--import", dest="imports", action="append",
                    help="module to preload (repeatable; default numpy)")
    args = ap.parse_args()
    args.imports = args.imports or ["numpy"]
    args.forkd = os.path.join(args.build, "daemon", "forkd")
    args.module = os.path.join(args.build, "modules", "python.so")
    sys.path.insert(0, os.path.join(ROOT, "tests", "pyclient"))
    sys.dont_write_bytecode = True

    res = {}
    for rnd in range(args.rounds):
        # Alternate the order so drift hits both settings alike.
        order = (1, 0) if rnd % 2 == 0 else (0, 1)
        for freeze in order:
            s = Server(args, freeze)
            try:
                for target in ("idle", "collect"):
                    kids, daemon = s.measure(target, args.n)
                    res.setdefault((target, freeze), []).append(kids)
                    res.setdefault(("forkd", freeze), []).append(daemon)
            finally:
                s.stop()

    def mib(v):
        return statistics.median(v) / 1024.0

    print("python module, preloading %s; %d children, median of %d rounds"
          % (", ".join(args.imports), args.n, args.rounds))
    print("%-34s %12s %12s %8s" % ("summed PSS of the children (MiB)",
                                   "gc.freeze()", "no freeze", "ratio"))
    for target, label in (("idle", "idle (sleep)"),
                          ("collect", "after one gc.collect()")):
        a, b = mib(res[(target, 1)]), mib(res[(target, 0)])
        print("%-34s %12.1f %12.1f %8.2f" % (label, a, b, b / a))
    a, b = mib(res[("forkd", 1)]), mib(res[("forkd", 0)])
    print("%-34s %12.1f %12.1f" % ("forkd itself (PSS, MiB)", a, b))


if __name__ == "__main__":
    main()
