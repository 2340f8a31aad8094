"""steps.py BUILD GAP: where one forkd.Process start()+join() goes, step by
step, untraced (session 14's measurement, not a tool of the suite).

BUILD is a build of the tree with stamps.diff applied: the pool child
(after it receives the plan), the python module's entry, its
PyOS_AfterFork_Child(), child_call()'s steps and the exit helper, and
forkd's wait4() each append "PID LABEL CLOCK_MONOTONIC" to /tmp/me/stamps.
This client runs 220 start()+join() of tt_targets.stamp (which returns
time.monotonic() in the child), GAP seconds apart, and prints the median
time of each stamp from the Process() call, and of each step.
"""
import sys, time, os, statistics
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..")); sys.path.insert(0, HERE)
import bench_python as bp
build = sys.argv[1]; gap = float(sys.argv[2])
sys.path.insert(0, build + "/client/python")
proc, conn, tmp = bp.start_forkd(build)
import forkd, tt_targets
try: os.unlink("/tmp/me/stamps")
except FileNotFoundError: pass
rows = {}
try:
    for i in range(220):
        t0 = time.monotonic()
        p = forkd.Process(target=tt_targets.stamp, connection=conn)
        p.start()
        t1 = time.monotonic()
        p.join()
        t2 = time.monotonic()
        ts = p.result()
        if i >= 20: rows[p.pid] = {"t0": t0, "started": t1, "joined": t2, "target": ts}
        p.close()
        if gap: time.sleep(gap)
finally:
    proc.terminate(); proc.wait()
for l in open("/tmp/me/stamps"):
    pid, lab, t = l.split(); pid = int(pid)
    if pid in rows: rows[pid][lab] = float(t)
order = ["recv", "entry", "afterfork", "py", "setup", "setproc", "resolve", "args", "target", "called", "written", "exit0", "reaped", "joined", "started"]
print("gap %g, medians from t0 (ms) and step (ms):" % gap)
prev = "t0"
for k in order:
    v = [r[k] - r["t0"] for r in rows.values() if k in r]
    d = [r[k] - r[prev] for r in rows.values() if k in r and prev in r]
    print("  %-10s %7.3f  %+7.3f  n=%d" % (k, statistics.median(v)*1e3, statistics.median(d)*1e3, len(v)))
    if k not in ("started",): prev = k
