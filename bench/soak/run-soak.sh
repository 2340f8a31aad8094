#!/bin/bash
# run-soak.sh: the load/soak run (issue 3). A benchmark-style script, not a
# timed test: it reports numbers and checks correctness, it does not judge
# speed.
#
# Builds forkd, the bench module, forkctl and forkd-soak (FORKD_BUILD_BENCH=ON)
# into $FORKD_SOAK_BUILD (default /tmp/build-soak), starts forkd on a
# private socket with a fresh 0600 key and the bench module, and runs
# SOAK_CYCLES spawn -> exit -> event cycles of bench:noop from SOAK_CLIENTS
# concurrent clients (one thread and one libforkd handle each). It checks
# that every exit event arrives exactly once for the right pid, that forkd
# leaves no zombie, and that its VmRSS and fd count stay flat; it prints
# throughput and p50/p99 cycle latency. Bounded: forkd-soak stops itself at
# SOAK_TIME_LIMIT seconds, and timeout(1) backs that up.
#
# Usage: bench/soak/run-soak.sh            (as root or any user; no network)
# Knobs (environment): SOAK_CLIENTS=16 SOAK_CYCLES=50000 SOAK_TIME_LIMIT=900
#   SOAK_INTERVAL=5 (s between samples) SOAK_WARMUP=2000 (cycles)
#   SOAK_SIZE_MB=8 (bench module state) FORKD_SOAK_BUILD=/tmp/build-soak
# Exit status: forkd-soak's (0 pass, 1 a check failed, 2 set-up error,
#   3 time limit), or 1 if forkd did not stop cleanly.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${FORKD_SOAK_BUILD:-/tmp/build-soak}
clients=${SOAK_CLIENTS:-16}
cycles=${SOAK_CYCLES:-50000}
limit=${SOAK_TIME_LIMIT:-900}
interval=${SOAK_INTERVAL:-5}
warmup=${SOAK_WARMUP:-2000}
size_mb=${SOAK_SIZE_MB:-8}

echo "==> building into $build (log: $build/soak-build.log)"
mkdir -p "$build"
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFORKD_BUILD_BENCH=ON -DBUILD_TESTING=OFF &&
    cmake --build "$build" -j"$(nproc)" --target forkd_daemon \
    forkd_module_bench forkctl forkd_soak; } >"$build/soak-build.log" 2>&1
then
	tail -n 30 "$build/soak-build.log" >&2
	echo "run-soak: build failed; see $build/soak-build.log" >&2
	exit 2
fi
# What was built: the commit, and the files that differed from it then.
head=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')
srcdesc="$src at $head"
dirty=$(git -C "$src" --no-optional-locks status --porcelain -- daemon client \
    proto modules include 2>/dev/null | wc -l || true)
srcdesc+=" (built $(date +%H:%M:%S); $dirty uncommitted changes in daemon/"
srcdesc+=" client/ proto/ modules/ include/)"
forkd=$build/daemon/forkd
forkctl=$build/client/forkctl/forkctl
soak=$build/bench/soak/forkd-soak
bench_so=$build/modules/bench.so

tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-soak.XXXXXX")
chmod 0700 "$tmp"
results=$build/soak-results
mkdir -p "$results"
stamp=$(date +%Y%m%d-%H%M%S)
# Every process of this run carries the tag in its environment (forkd and,
# through it, every child), so the cleanup can find them all.
tag=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
forkd_pid=

# Processes whose environment holds our tag.
tagged_pids() {
	local f p
	for f in /proc/[0-9]*/environ; do
		p=${f#/proc/}
		p=${p%/environ}
		[[ $p == "$$" || $p == "$BASHPID" ]] && continue
		if grep -qzx "FORKD_SOAK_TAG=$tag" "$f" 2>/dev/null; then
			echo "$p"
		fi
	done
}

# Stop forkd (TERM, then KILL after 10 s) and anything else we started.
stop_forkd() {
	local i
	[[ -n $forkd_pid ]] || return 0
	if kill -0 "$forkd_pid" 2>/dev/null; then
		kill -TERM "$forkd_pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$forkd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$forkd_pid" 2>/dev/null || true
	fi
	forkd_status=0
	wait "$forkd_pid" 2>/dev/null || forkd_status=$?
	forkd_pid=
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? p f
	trap - EXIT INT TERM
	stop_forkd
	for p in $(tagged_pids); do
		echo "run-soak: killing leftover process $p" >&2
		kill -KILL "$p" 2>/dev/null || true
	done
	[[ -s $tmp/forkd.log ]] && cp "$tmp/forkd.log" \
	    "$results/soak-$stamp.forkd.log"
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export FORKD_SOCKET=$tmp/forkd.sock FORKD_KEY_FILE=$tmp/authkey
"$forkctl" keygen "$FORKD_KEY_FILE" >/dev/null
echo "==> key $FORKD_KEY_FILE (mode $(stat -c %a "$FORKD_KEY_FILE")), socket" \
    "$FORKD_SOCKET"
env FORKD_SOAK_TAG="$tag" "$forkd" -s "$FORKD_SOCKET" -k "$FORKD_KEY_FILE" \
    -m "$bench_so:size_mb=$size_mb" 2>"$tmp/forkd.log" &
forkd_pid=$!
for ((i = 0; ; i++)); do
	"$forkctl" ping >/dev/null 2>&1 && break
	if ((i >= 100)) || ! kill -0 "$forkd_pid" 2>/dev/null; then
		cat "$tmp/forkd.log" >&2
		echo "run-soak: forkd did not come up" >&2
		exit 2
	fi
	sleep 0.1
done
echo "==> forkd pid $forkd_pid ready ($("$forkd" --version)," \
    "bench.so:size_mb=$size_mb); $(nproc) CPUs, $(uname -r)"
echo

# What a bare fork costs here, as a floor for the cycle numbers.
base=$("$soak" forkbase -m "$size_mb" -n 1000)
echo "$base"
echo

set +e
timeout --kill-after=10 $((limit + 120)) "$soak" cycles -s "$FORKD_SOCKET" \
    -k "$FORKD_KEY_FILE" -p "$forkd_pid" -c "$clients" -n "$cycles" \
    -t "$limit" -i "$interval" -w "$warmup" | tee "$tmp/soak.out"
soak_rc=${PIPESTATUS[0]}
set -e
cp "$tmp/soak.out" "$results/soak-$stamp.txt"

forkd_status=
stop_forkd
log_bad=$(grep -cE 'forkd\[[0-9]+\]: (err|warning):' "$tmp/forkd.log" || true)
leftover=$(tagged_pids | wc -l)

rc=$soak_rc
((soak_rc == 124 || soak_rc == 137)) && rc=3
[[ $forkd_status == 0 ]] || { ((rc == 0)) && rc=1; }
((leftover == 0)) || { ((rc == 0)) && rc=1; }

echo
echo "==== run-soak.sh: summary ===="
echo "build:           $build (RelWithDebInfo), forkd $("$forkd" --version)"
echo "machine:         $(nproc) CPUs, kernel $(uname -r)," \
    "pid_max $(cat /proc/sys/kernel/pid_max)"
echo "source:          $srcdesc"
echo "run:             $clients clients, $cycles cycles of bench:noop," \
    "bench.so:size_mb=$size_mb, time limit ${limit} s"
echo "$base"
sed -n '/^==== forkd soak: summary/,$p' "$tmp/soak.out" | sed 1d |
    grep -v '^result:' || true
echo "forkd stop:      exit status $forkd_status after SIGTERM;" \
    "$log_bad warning/error lines in its log"
echo "leftovers:       $leftover processes of this run still alive"
echo "output kept in:  $results/soak-$stamp.txt"
case $rc in
0) echo "result:          PASS" ;;
3) echo "result:          STOPPED BY THE TIME LIMIT" ;;
*) echo "result:          FAIL (forkd-soak exit $soak_rc)" ;;
esac
exit "$rc"
