#!/usr/bin/env python3
"""quadratic.py: forkd CPU per spawn+exit with many pending waits, and per
spawn with 1,024 environment entries (issue 13 item 10).

    bench/scale/quadratic.py --forkd build/daemon/forkd \
        --module-dir build/modules [--waits 61440] [--spawns 300]

Reports forkd's own CPU time (utime+stime from /proc/PID/stat) divided by
the number of spawns: numbers to compare, never a pass/fail.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "tests", "pyclient"))
import forkd_client as fc  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK


def spawn_cycle(c, n, env=None):
    for _ in range(n):
        c.spawn("bench:noop", env=env)
        while c.next_exit(10) is None:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--forkd", required=True)
    ap.add_argument("--module-dir", required=True)
    ap.add_argument("--waits", type=int, default=61440)
    ap.add_argument("--spawns", type=int, default=300)
    ap.add_argument("--restricted", action="store_true",
                    help="with allow_targets set (the env names checked)")
    a = ap.parse_args()
    a.policy = "[policy]\nallow_targets = bench:*\n" if a.restricted else ""
    tmp = tempfile.mkdtemp(prefix="forkd-quad.")
    sock = os.path.join(tmp, "s")
    keyf = os.path.join(tmp, "k")
    key = os.urandom(32)
    fd = os.open(keyf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, key)
    os.close(fd)
    conf = os.path.join(tmp, "c")
    with open(conf, "w") as f:
        # 60 connections of one uid for the waits case.
        f.write("[limits]\nmax_spawn_rate = 0\nmax_connections_per_uid = 64\n"
                + a.policy)
    log = open(os.path.join(tmp, "log"), "wb")
    p = subprocess.Popen([a.forkd, "-c", conf, "-s", sock, "-k", keyf,
                          "-m", os.path.join(a.module_dir, "bench.so")],
                         stdout=log, stderr=log)
    try:
        for _ in range(200):
            try:
                fc.connect(sock, key, timeout=2).close()
                break
            except OSError:
                time.sleep(0.05)
        c = fc.connect(sock, key, timeout=30)
        spawn_cycle(c, 50)                       # warm up
        t0 = cpu_ms(p.pid)
        spawn_cycle(c, a.spawns)
        base = (cpu_ms(p.pid) - t0) / a.spawns
        print("spawn+exit, no pending waits: %.3f ms forkd CPU each" % base)

        env = ["K%04d=v" % i for i in range(1024)]
        t0 = cpu_ms(p.pid)
        spawn_cycle(c, a.spawns, env=env)
        e = (cpu_ms(p.pid) - t0) / a.spawns
        print("spawn+exit with 1024 env entries: %.3f ms forkd CPU each "
              "(%.3f ms over none)" % (e, e - base))

        # Pending waits, each on the same 64 children that never end, from
        # 60 connections that never read their replies.
        longs = [c.spawn("bench:sleep", argv=["bench:sleep", "3600"])[0]
                 for _ in range(64)]
        conns, left = [], a.waits
        while left > 0:
            w = fc.connect(sock, key, timeout=30)
            k = min(left, 1024)
            for i in range(k):
                w.send_message({"request": {"id": i + 1, "wait": {
                    "children": [{"pid": x} for x in longs],
                    "timeout_ms": -1}}})
            conns.append(w)
            left -= k
        for w in conns:
            w.ping()            # after its waits: all registered
        t0 = cpu_ms(p.pid)
        spawn_cycle(c, a.spawns)
        w = (cpu_ms(p.pid) - t0) / a.spawns
        print("spawn+exit with %d pending waits on another child: %.3f ms "
              "forkd CPU each (%.3f ms over none)" % (a.waits, w, w - base))
        for w in conns:
            w.close()
        for x in longs:
            c.signal(x, 9)
        c.close()
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
