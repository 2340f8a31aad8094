#!/bin/bash
# test.sh EXAMPLE FORKD MODULE_DIR: run examples/c/spawn_libevent against a
# forkd started on a temporary socket (ctest: example_libevent).
set -euo pipefail
example=$1 forkd=$2 moddir=$3
tmp=$(mktemp -d)
forkd_pid=
cleanup() {
	[[ -n $forkd_pid ]] && kill -TERM "$forkd_pid" 2>/dev/null &&
	    wait "$forkd_pid" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $tmp/out ]] && cat "$tmp/out" >&2; exit 1; }

head -c 32 /dev/urandom >"$tmp/key"
chmod 600 "$tmp/key"
export FORKD_SOCKET=$tmp/s.sock FORKD_KEY_FILE=$tmp/key
"$forkd" -s "$FORKD_SOCKET" -k "$FORKD_KEY_FILE" -m "$moddir/bench.so" \
    2>"$tmp/forkd.log" &
forkd_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -S $FORKD_SOCKET ]] && break
	sleep 0.05
done

# 16 children that each sleep 0.3 s: every request answered, every child
# exited 0, and the loop's 10 ms timer ran while they slept.
timeout 60 "$example" 16 bench:sleep 0.3 >"$tmp/out" 2>&1 ||
	fail "spawn_libevent exited $?"
grep -q '^16 spawn requests sent$' "$tmp/out" || fail "requests not sent"
(( $(grep -c '^request [0-9]*: started sleep-[0-9]*, pid [0-9]*$' "$tmp/out") == 16 )) ||
	fail "not 16 spawn replies"
(( $(grep -c 'exited with 0$' "$tmp/out") == 16 )) || fail "not 16 exits"
summary=$(tail -1 "$tmp/out")
[[ $summary =~ ^16\ started,\ 0\ failed,\ 16\ exited\ \(0\ non-zero\),\ ([0-9]+)\ ticks$ ]] ||
	fail "summary: $summary"
((BASH_REMATCH[1] >= 5)) || fail "the loop's timer ran ${BASH_REMATCH[1]} times in 0.3 s"

# A refused spawn comes back as a reply with forkd's reason.
if timeout 60 "$example" 2 bench:nonexistent >"$tmp/out" 2>&1; then
	fail "spawn_libevent with a bad target exited 0"
fi
(( $(grep -c 'spawn failed: ' "$tmp/out") == 2 )) || fail "no failed replies"
grep -q '^0 started, 2 failed, 0 exited' "$tmp/out" || fail "failure summary"
echo "example spawn_libevent: passed"
