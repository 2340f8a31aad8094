#!/usr/bin/env python3
"""hops.py: break forkd pool spawns into their hops (issue 17).

Reads `perf script --ns -F comm,pid,tid,cpu,time,event,trace` of a trace
taken with raw_syscalls:sys_enter/sys_exit, sched:sched_switch,
sched:sched_wakeup and sched:sched_process_exit while forkd-hops ran
(hops.sh does all of it) and prints, over every complete cycle, the p50
of each step of a pool spawn and of the in-process fork() beside it.

    hops.py FORKD_PID CLIENT_PID ZYGOTE_PID [POOL_PID...] < perf-script

POOL_PID: forkd's idle pool children when the trace began; later ones are
those the zygote's clone calls return.
"""
import re
import statistics
import sys

SYS = {0: "read", 1: "write", 3: "close", 7: "poll", 15: "rt_sigreturn",
       44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg",
       56: "clone", 61: "wait4", 62: "kill", 72: "fcntl", 107: "geteuid",
       228: "clock_gettime", 231: "exit_group", 232: "epoll_wait",
       233: "epoll_ctl", 281: "epoll_pwait", 435: "clone3",
       434: "pidfd_open", 39: "getpid", 267: "readlinkat"}

LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+"
                  r"\[(?P<cpu>\d+)\]\s+(?P<time>\d+\.\d+):\s+"
                  r"(?P<event>[\w:]+):\s*(?P<trace>.*)$")


def events(f):
    for line in f:
        m = LINE.match(line)
        if not m:
            continue
        t = float(m["time"]) * 1e6   # microseconds
        yield (t, m["comm"], int(m["pid"]), int(m["tid"]), int(m["cpu"]),
               m["event"], m["trace"])


def main():
    dpid, cpid, zpid = (int(a) for a in sys.argv[1:4])
    ours = set(int(a) for a in sys.argv[4:])   # forkd's pool children
    fk = []          # finished forkd cycles: dict mark -> time
    fo = []          # finished fork() rounds
    cur = None       # the forkd cycle being followed
    fcur = None      # the fork() round being followed
    dsys = []        # forkd's system calls per cycle
    zclone = []      # zygote clone3 times
    oncpu = {}       # tid -> time switched in
    dcpu = []        # forkd's on-CPU time per cycle
    dnames = {}      # forkd's system calls by number, over all cycles
    for t, comm, pid, tid, cpu, ev, tr in events(sys.stdin):
        if ev == "raw_syscalls:sys_enter" or ev == "raw_syscalls:sys_exit":
            m = re.match(r"NR (\d+)(?: \(([0-9a-fx]+))?(?:.*= (-?\d+))?",
                         tr)
            if not m:
                continue
            nr = int(m.group(1))
            arg0 = int(m.group(2), 16) if m.group(2) else None
            ret = int(m.group(3)) if m.group(3) is not None else None
            enter = ev.endswith("enter")
            name = SYS.get(nr)
            if pid == cpid and enter and name == "sendmsg":
                if cur is not None and "c_recv_exit" in cur:
                    fk.append(cur)
                    dsys.append(cur.pop("_nsys", 0))
                    dcpu.append(cur.pop("_cpu", 0.0))
                cur = {"t0": t, "_nsys": 0, "_cpu": 0.0}
                continue
            if pid == cpid and name in ("clone", "clone3"):
                if enter:
                    fcur = {"t0": t}
                elif fcur is not None and ret and ret > 0:
                    fcur["f_parent_back"] = t
                    fcur["_child"] = ret
                continue
            if pid == zpid and name in ("clone", "clone3"):
                if enter:
                    zclone.append(t)
                elif ret and ret > 0:
                    ours.add(ret)
            if fcur is not None and pid == fcur.get("_child"):
                if enter and name == "write" and "f_write" not in fcur:
                    fcur["f_write"] = t
                if enter and name == "exit_group":
                    fcur["f_exit"] = t
            if fcur is not None and pid == cpid and not enter:
                if name == "read" and ret == 1 and "f_read" not in fcur:
                    fcur["f_read"] = t
                if name == "wait4" and ret == fcur.get("_child"):
                    fcur["f_waited"] = t
                    fo.append(fcur)
                    fcur = None
            if cur is None:
                continue
            if pid == dpid and enter:
                cur["_nsys"] += 1
                nm = name or str(nr)
                dnames[nm] = dnames.get(nm, 0) + 1
            if pid == cpid and not enter and name == "sendmsg":
                cur.setdefault("c_sent", t)
            elif pid == dpid and not enter and name == "recvmsg" and \
                    ret and ret > 0:
                cur.setdefault("d_recv_req", t)
            elif pid == dpid and enter and name == "sendmsg":
                if "d_recv_req" in cur and "d_send_plan" not in cur:
                    cur["d_send_plan"] = t
                elif "d_read_report" in cur and "d_send_reply" not in cur:
                    cur["d_send_reply"] = t
                elif "d_reaped" in cur and "d_send_exit" not in cur:
                    cur["d_send_exit"] = t
            elif pid == dpid and not enter and name == "sendmsg" and \
                    "d_send_plan" in cur and "d_plan_sent" not in cur:
                cur["d_plan_sent"] = t
            elif pid in ours and not enter and \
                    name == "recvmsg" and ret and ret > 0 and \
                    "d_send_plan" in cur and "p_recv_plan" not in cur:
                cur["p_recv_plan"] = t
                cur["_child"] = pid
            elif pid == cur.get("_child") and enter and name == "write":
                if arg0 == 1:
                    cur.setdefault("p_write_byte", t)
                else:
                    cur.setdefault("p_write_started", t)
            elif pid == cur.get("_child") and enter and name == "exit_group":
                cur["p_exit"] = t
            elif pid == dpid and not enter and name == "read" and \
                    ret == 8 and "p_recv_plan" in cur:
                cur.setdefault("d_read_report", t)
            elif pid == dpid and not enter and name == "wait4" and \
                    ret == cur.get("_child"):
                cur["d_reaped"] = t
            elif pid == cpid and not enter and name == "read" and ret == 1:
                cur.setdefault("c_read_byte", t)
            elif pid == cpid and not enter and name == "recvmsg" and \
                    ret and ret > 0:
                if "d_send_reply" in cur and "c_recv_reply" not in cur:
                    cur["c_recv_reply"] = t
                elif "d_send_exit" in cur and "c_recv_exit" not in cur:
                    cur["c_recv_exit"] = t
        elif ev == "sched:sched_wakeup":
            m = re.search(r"pid=(\d+)", tr)
            wp = int(m.group(1)) if m else -1
            if cur is not None:
                if wp == dpid and "d_recv_req" not in cur:
                    cur.setdefault("d_woken", t)
                if "d_plan_sent" in cur or "d_send_plan" in cur:
                    if "p_recv_plan" not in cur and \
                            wp in ours and "p_woken" not in cur:
                        cur["p_woken"] = t
                        cur["_child"] = wp
                if wp == dpid and "p_write_started" in cur:
                    cur.setdefault("d_woken_report", t)
                if wp == cpid and "d_send_reply" in cur:
                    cur.setdefault("c_woken_reply", t)
                if wp == dpid and "p_exit" in cur:
                    cur.setdefault("d_woken_exit", t)
            if fcur is not None and wp == fcur.get("_child"):
                fcur.setdefault("f_child_woken", t)
        elif ev == "sched:sched_switch":
            m = re.search(r"prev_pid=(\d+).*next_pid=(\d+)", tr)
            if not m:
                continue
            prev, nxt = int(m.group(1)), int(m.group(2))
            if prev == dpid and dpid in oncpu and cur is not None:
                cur["_cpu"] += t - oncpu.pop(dpid)
            if nxt == dpid:
                oncpu[dpid] = t
            if cur is not None:
                if nxt == dpid and "d_woken" in cur and \
                        "d_recv_req" not in cur:
                    cur.setdefault("d_on_cpu", t)
                if nxt == cur.get("_child") and "p_recv_plan" not in cur:
                    cur.setdefault("p_on_cpu", t)
            if fcur is not None and nxt == fcur.get("_child"):
                fcur.setdefault("f_child_on_cpu", t)

    fk_order = ["c_sent", "d_woken", "d_on_cpu", "d_recv_req", "d_send_plan",
                "d_plan_sent", "p_woken", "p_on_cpu", "p_recv_plan",
                "p_write_started", "p_write_byte", "d_woken_report",
                "d_read_report", "d_send_reply", "c_woken_reply",
                "c_recv_reply", "c_read_byte", "p_exit", "d_woken_exit",
                "d_reaped", "d_send_exit", "c_recv_exit"]
    fo_order = ["f_parent_back", "f_child_woken", "f_child_on_cpu",
                "f_write", "f_read", "f_exit", "f_waited"]
    report("forkd pool spawn of bench:byte, from the client's sendmsg "
           "of the request", fk, fk_order)
    report("in-process fork(), from the parent's clone() entry", fo,
           fo_order)
    if dsys:
        print(f"forkd per cycle: {statistics.median(dsys):.0f} system "
              f"calls, {statistics.median(dcpu):.1f} us on CPU (p50)")
    if fk:
        print("  by call: " + ", ".join(
            f"{k} {v / (len(fk) + 1):.2f}" for k, v in
            sorted(dnames.items(), key=lambda kv: -kv[1])))
    near, far = [], []
    for c in fk:
        if "p_write_byte" not in c:
            continue
        byte = c["p_write_byte"] - c["t0"]
        if any(c["t0"] - 300 <= z <= c["p_write_byte"] for z in zclone):
            near.append(byte)
        else:
            far.append(byte)
    print(f"zygote clones: {len(zclone)}; request -> byte written, p50: "
          f"{med(near)} us in {len(near)} cycles with a clone from 300 us "
          f"before the request to the byte, {med(far)} us in {len(far)} "
          f"without")


def med(v):
    return f"{statistics.median(v):.1f}" if v else "-"


def report(title, cycles, order):
    print(f"{title}: {len(cycles)} complete")
    if not cycles:
        return
    prev = "t0"
    print(f"  {'mark':<18} {'p50 from t0':>12} {'p50 step':>10} "
          f"{'p90 step':>10}  cycles")
    for mark in order:
        have = [c for c in cycles if mark in c and prev in c]
        if not have:
            continue
        at = statistics.median(c[mark] - c["t0"] for c in have)
        steps = sorted(c[mark] - c[prev] for c in have)
        p50 = steps[len(steps) // 2]
        p90 = steps[min(len(steps) - 1, len(steps) * 9 // 10)]
        print(f"  {mark:<18} {at:>12.1f} {p50:>10.1f} {p90:>10.1f}  "
              f"{len(have)}")
        prev = mark


if __name__ == "__main__":
    main()
