#!/bin/sh
# hops.sh: break one forkd pool spawn into its hops (issue 17), as root.
#
#   bench/harness/hops.sh [--build-dir DIR] [N [GAP_US]]
#
# Builds forkd, the bench module and forkd-hops (Release, ./build-bench
# unless --build-dir), starts forkd with its pool and $HOPS_MB MiB of
# state (default 0; defaults otherwise), warms it with 50 rounds, then
# runs forkd-hops for N rounds (default 400; a forkd spawn of bench:byte
# and an in-process fork() each, GAP_US of sleep after each, default
# 2000) under `perf record -a -k mono` with the scheduler and system-call
# tracepoints of forkd's processes, and prints hops.py's breakdown: when
# each hop of the spawn happened, p50 over the rounds. The tracepoints
# cost about 1 us per event, so the figures are those of a traced run:
# compare them with forkd-hops' own (printed first). The trace's own
# perf-script text goes to $HOPS_SCRIPT_OUT if set.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build-bench"
if [ "${1:-}" = "--build-dir" ]; then
	build=$2
	shift 2
fi
n=${1:-400}
gap=${2:-2000}

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DFORKD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 --target forkd-hops >/dev/null

tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-hops.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

head -c 32 /dev/urandom >"$tmp/authkey"
chmod 600 "$tmp/authkey"
echo "# forkd-hops: defaults" >"$tmp/forkd.conf"
"$build/daemon/forkd" -c "$tmp/forkd.conf" -s "$tmp/s.sock" \
	-k "$tmp/authkey" -m "$build/modules/bench.so:size_mb=${HOPS_MB:-0}" -q \
	</dev/null >"$tmp/forkd.log" 2>&1 &
pid=$!
i=0
while [ ! -S "$tmp/s.sock" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { cat "$tmp/forkd.log" >&2; exit 1; }
	sleep 0.05
done
"$build/bench/harness/forkd-hops" "$tmp/s.sock" "$tmp/authkey" 50 "$gap" \
	>/dev/null
# CPU time (ns) and times run of forkd, or of its forkd-closer processes
# (those in forkd's session), from /proc/PID/schedstat.
sched() {
	if [ "$1" = forkd ]; then
		pids=$pid
	else
		sess=$(ps -o sess= -p "$pid")
		pids=$(ps -eo pid=,sess=,comm= |
			awk -v s="$sess" '$2 == s && $3 == "forkd-closer" { print $1 }')
	fi
	for p in $pids; do cat "/proc/$p/schedstat" 2>/dev/null; done |
		awk '{ ns += $1; runs += $3 } END { print ns + 0, runs + 0 }'
}
echo "untraced:"
d0=$(sched forkd)
c0=$(sched closer)
"$build/bench/harness/forkd-hops" "$tmp/s.sock" "$tmp/authkey" "$n" "$gap"
d1=$(sched forkd)
c1=$(sched closer)
echo "$d0 $d1 $c0 $c1" | awk -v n="$n" '{
	printf "per round (untraced, /proc/PID/schedstat): forkd %.1f us on " \
	    "CPU; forkd-closer %.1f us on CPU, run %.2f times\n",
	    ($3 - $1) / 1000 / n, ($7 - $5) / 1000 / n, ($8 - $6) / n }'
zpid=$(ps -o pid= -o comm= --ppid "$pid" | awk '$2 == "forkd-zygote" { print $1 }')
pool=$(ps -o pid= -o comm= --ppid "$pid" | awk '$2 == "forkd-pool" { print $1 }')
echo "traced:"
# Only forkd's processes (forkd, its zygote and pool children, forkd-hops
# and its fork() children) and the bench:byte children, to keep the cost
# of tracing down.
f='comm ~ "forkd*" || comm ~ "byte*"'
perf record -q -a -k mono -o "$tmp/perf.data" \
	-e raw_syscalls:sys_enter --filter "$f" \
	-e raw_syscalls:sys_exit --filter "$f" \
	-e sched:sched_switch \
	--filter 'prev_comm ~ "forkd*" || next_comm ~ "forkd*" || prev_comm ~ "byte*" || next_comm ~ "byte*"' \
	-e sched:sched_wakeup --filter "$f" -- \
	"$build/bench/harness/forkd-hops" "$tmp/s.sock" "$tmp/authkey" "$n" \
	"$gap" >"$tmp/hops.out" &
ppid=$!
wait "$ppid"
cat "$tmp/hops.out"
# forkd-hops is perf's child: its pid is the one that sent requests.
cpid=$(perf script -i "$tmp/perf.data" -F comm,pid 2>/dev/null |
	awk '$1 == "forkd-hops" { print $2; exit }')
perf script -i "$tmp/perf.data" --ns \
	-F comm,pid,tid,cpu,time,event,trace 2>/dev/null |
	tee "${HOPS_SCRIPT_OUT:-/dev/null}" | python3 "$here/hops.py" "$pid" "$cpid" \
	"${zpid:-0}" $pool
