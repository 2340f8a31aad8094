#!/bin/bash
# run-restart.sh: forkd killed and restarted under load (issue 3).
#
# Builds what it needs (as run-soak.sh), then runs forkd under a small shell
# supervisor that restarts it RESTART_DELAY seconds after it dies (the
# stand-in for systemd's Restart=on-failure; there is no systemd PID 1
# here). forkd-soak restart runs RESTART_CLIENTS clients that cycle
# bench:noop, bench:sleep 0.2 and bench:sleep 0.2 with the daemon flag, and
# reconnect with exponential backoff after any error, and it SIGKILLs forkd
# RESTART_KILLS times. Before each kill it starts probes that outlive the
# kill: bench:sleep 3 without and with the daemon flag, and (if setpriv is
# installed) "setpriv --pdeathsig KILL -- /bin/sleep 3", the mitigation.
#
# It reports per kill: failed cycles and their errors, failed reconnects,
# the time until the first reconnect, the first good cycle and every
# client's good cycle; and what became of the children running at the kill
# (kept running? new parent? zombie? known to the new forkd?).
#
# Usage: bench/soak/run-restart.sh                   (as root; no network)
# Knobs: RESTART_CLIENTS=6 RESTART_KILLS=4 RESTART_FIRST=4 (s)
#   RESTART_INTERVAL=8 (s between kills) RESTART_DELAY=0.5 (s, supervisor)
#   RESTART_TIME_LIMIT=300 (s) SOAK_SIZE_MB=8 FORKD_SOAK_BUILD=/tmp/build-soak
# Exit status: forkd-soak's (0 pass, 1 a check failed, 2 set-up error,
#   3 time limit), or 1 if the supervisor or forkd misbehaved.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${FORKD_SOAK_BUILD:-/tmp/build-soak}
clients=${RESTART_CLIENTS:-6}
kills=${RESTART_KILLS:-4}
first=${RESTART_FIRST:-4}
interval=${RESTART_INTERVAL:-8}
delay=${RESTART_DELAY:-0.5}
limit=${RESTART_TIME_LIMIT:-300}
size_mb=${SOAK_SIZE_MB:-8}
max_starts=$((kills + 3))	# the supervisor gives up after this many

echo "==> building into $build (log: $build/restart-build.log)"
mkdir -p "$build"
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFORKD_BUILD_BENCH=ON -DBUILD_TESTING=OFF &&
    cmake --build "$build" -j"$(nproc)" --target forkd_daemon \
    forkd_module_bench forkctl forkd_soak; } >"$build/restart-build.log" 2>&1
then
	tail -n 30 "$build/restart-build.log" >&2
	echo "run-restart: build failed; see $build/restart-build.log" >&2
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
setpriv=$(command -v setpriv || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-restart.XXXXXX")
chmod 0700 "$tmp"
results=$build/soak-results
mkdir -p "$results"
stamp=$(date +%Y%m%d-%H%M%S)
# forkd and, through it, every child carry the tag in their environment.
tag=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
sup_pid=

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

# The supervisor: start forkd, wait for it, note how it ended, start it
# again after $delay, until $tmp/stop exists or max_starts is reached.
supervise() {
	local starts=0 child st
	while [[ ! -e $tmp/stop ]] && ((starts < max_starts)); do
		env FORKD_SOAK_TAG="$tag" "$forkd" -s "$FORKD_SOCKET" \
		    -k "$FORKD_KEY_FILE" -m "$bench_so:size_mb=$size_mb" \
		    2>>"$tmp/forkd.log" &
		child=$!
		echo "$child" >"$tmp/forkd.pid.new"
		mv -f "$tmp/forkd.pid.new" "$tmp/forkd.pid"
		echo "$(date +%s.%N) started forkd pid $child" \
		    >>"$tmp/supervisor.log"
		st=0
		wait "$child" || st=$?
		echo "$(date +%s.%N) forkd pid $child ended, status $st" \
		    >>"$tmp/supervisor.log"
		starts=$((starts + 1))
		[[ -e $tmp/stop ]] && break
		sleep "$delay"
	done
}

# Stop the supervisor, then forkd (SIGTERM: a clean stop), then anything
# else of this run.
stop_all() {
	local p i
	[[ -n $sup_pid ]] || return 0
	touch "$tmp/stop"
	for ((i = 0; i < 150; i++)); do
		p=$(cat "$tmp/forkd.pid" 2>/dev/null || true)
		[[ -n $p ]] && { kill -TERM "$p" 2>/dev/null || true; }
		kill -0 "$sup_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$sup_pid" 2>/dev/null; then
		echo "run-restart: supervisor still running; killing it" >&2
		kill -KILL "$sup_pid" 2>/dev/null || true
	fi
	wait "$sup_pid" 2>/dev/null || true
	sup_pid=
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	local rc=$? p f
	trap - EXIT INT TERM
	stop_all
	for p in $(tagged_pids); do
		echo "run-restart: killing leftover process $p" >&2
		kill -KILL "$p" 2>/dev/null || true
	done
	for f in forkd.log supervisor.log; do
		[[ -s $tmp/$f ]] && cp "$tmp/$f" "$results/restart-$stamp.$f"
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export FORKD_SOCKET=$tmp/forkd.sock FORKD_KEY_FILE=$tmp/authkey
"$forkctl" keygen "$FORKD_KEY_FILE" >/dev/null
# (Its stderr to the log: bash reports every SIGKILLed forkd there.)
supervise 2>>"$tmp/supervisor.log" &
sup_pid=$!
for ((i = 0; ; i++)); do
	"$forkctl" ping >/dev/null 2>&1 && break
	if ((i >= 100)); then
		cat "$tmp/forkd.log" >&2
		echo "run-restart: forkd did not come up" >&2
		exit 2
	fi
	sleep 0.1
done
echo "==> forkd pid $(cat "$tmp/forkd.pid") under a shell supervisor" \
    "(restart after ${delay} s); key mode $(stat -c %a "$FORKD_KEY_FILE");" \
    "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

set +e
timeout --kill-after=10 $((limit + 60)) "$soak" restart -s "$FORKD_SOCKET" \
    -k "$FORKD_KEY_FILE" -P "$tmp/forkd.pid" -c "$clients" -K "$kills" \
    -f "$first" -I "$interval" -t "$limit" ${setpriv:+-x "$setpriv"} |
    tee "$tmp/restart.out"
soak_rc=${PIPESTATUS[0]}
set -e
cp "$tmp/restart.out" "$results/restart-$stamp.txt"

stop_all
starts=$(grep -c 'started forkd' "$tmp/supervisor.log" || true)
killed=$(grep -c 'status 137$' "$tmp/supervisor.log" || true)
last_status=$(grep "ended, status" "$tmp/supervisor.log" | tail -n 1 |
    sed "s/.*status //")
stale=$(grep -c 'removed stale socket' "$tmp/forkd.log" || true)
log_bad=$(grep -cE 'forkd\[[0-9]+\]: (err|warning):' "$tmp/forkd.log" ||
    true)
leftover=$(tagged_pids | wc -l)

rc=$soak_rc
((soak_rc == 124 || soak_rc == 137)) && rc=3
if ((rc == 0)) && { ((killed != kills)) || [[ $last_status != 0 ]] ||
    ((leftover != 0)); }; then
	rc=1
fi

echo
echo "==== run-restart.sh: summary ===="
echo "source:          $srcdesc"
echo "supervisor:      $starts forkd starts, $killed ended by SIGKILL" \
    "(status 137), the last one ended with status $last_status after" \
    "SIGTERM; $stale starts removed a stale socket"
sed -n '/^==== forkd restart under load: summary/,$p' "$tmp/restart.out" |
    sed 1d | grep -v '^result:' || true
echo "forkd log:       $log_bad warning/error lines"
echo "leftovers:       $leftover processes of this run still alive"
echo "output kept in:  $results/restart-$stamp.txt"
case $rc in
0) echo "result:          PASS" ;;
3) echo "result:          STOPPED BY THE TIME LIMIT" ;;
*) echo "result:          FAIL (forkd-soak exit $soak_rc)" ;;
esac
exit "$rc"
