#!/bin/bash
# forkctl_test.sh: drive forkctl end to end against a real forkd.
#
#   forkctl_test.sh FORKCTL FORKD MODULE_DIR
#
# Starts FORKD -s SOCK -k KEY -m MODULE_DIR/pi.so -m MODULE_DIR/bench.so in
# a temporary directory with a key made by `forkctl keygen`, runs the
# checks below, stops forkd with SIGTERM (it must exit 0). Prints one line
# per check and "N passed, N failed"; exit 0 when all passed, 1 otherwise,
# 77 (skipped) when FORKCTL is "none" (not built).
set -u

if (($# != 3)); then
	echo "usage: $0 FORKCTL FORKD MODULE_DIR" >&2
	exit 2
fi
FORKCTL=$1
FORKD=$2
MODDIR=$3
if [[ $FORKCTL == none || ! -x $FORKCTL ]]; then
	echo "forkctl_test: forkctl not built ($FORKCTL): skipped"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkctl-test.XXXXXX")
sock=$tmp/forkd.sock
key=$tmp/authkey
forkd_pid=
passed=0
failed=0

cleanup() {
	if [[ -n $forkd_pid ]] && kill -0 "$forkd_pid" 2>/dev/null; then
		kill -KILL "$forkd_pid" 2>/dev/null
		wait "$forkd_pid" 2>/dev/null
	fi
	if ((failed == 0)); then
		rm -rf "$tmp"
	else
		echo "forkctl_test: kept $tmp" >&2
	fi
}
trap cleanup EXIT

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	for l in "$@"; do
		printf '     %s\n' "$l"
	done
}

# fc ARGS...: run forkctl with the test's socket and key; sets out (stdout),
# err (stderr) and rc. stdin is /dev/null and stdout a file, not a pipe:
# forkctl passes its stdio to the child even without --wait, and a child
# holding a pipe would keep $(...) waiting until it ends.
fc() {
	"$FORKCTL" -s "$sock" -k "$key" "$@" </dev/null >"$tmp/stdout" \
	    2>"$tmp/stderr"
	rc=$?
	out=$(cat "$tmp/stdout")
	err=$(cat "$tmp/stderr")
}

# expect_rc NAME WANT: check rc of the last fc.
expect_rc() {
	if ((rc == $2)); then
		pass "$1"
		return 0
	fi
	fail "$1" "exit status $rc, expected $2" "stdout: $out" "stderr: $err"
	return 1
}

# ---- keygen --------------------------------------------------------------

"$FORKCTL" keygen "$key" >"$tmp/out" 2>&1
rc=$?
if ((rc != 0)) || [[ ! -f $key ]]; then
	fail "keygen FILE" "exit $rc: $(cat "$tmp/out")"
	echo "$passed passed, $failed failed"
	exit 1
fi
pass "keygen FILE"
mode=$(stat -c %a "$key")
size=$(stat -c %s "$key")
if [[ $mode == 600 && $size == 32 ]]; then
	pass "keygen makes a 32-byte 0600 file"
else
	fail "keygen makes a 32-byte 0600 file" "mode $mode, size $size"
fi
before=$(od -An -tx1 "$key")
"$FORKCTL" keygen "$key" >"$tmp/out" 2>&1
rc=$?
after=$(od -An -tx1 "$key")
if ((rc != 0)) && [[ $before == "$after" ]]; then
	pass "keygen refuses to overwrite (exit $rc)"
else
	fail "keygen refuses to overwrite" "exit $rc, key changed: \
$([[ $before == "$after" ]] && echo no || echo yes)"
fi
if ((rc != 0)) && ! grep -q "$key" "$tmp/out"; then
	fail "keygen refusal names the file" "output: $(cat "$tmp/out")"
fi
"$FORKCTL" keygen --force "$key" >"$tmp/out" 2>&1
rc=$?
after=$(od -An -tx1 "$key")
mode=$(stat -c %a "$key")
if ((rc == 0)) && [[ $before != "$after" && $mode == 600 ]]; then
	pass "keygen --force replaces the key"
else
	fail "keygen --force replaces the key" "exit $rc, mode $mode, \
changed: $([[ $before != "$after" ]] && echo yes || echo no)" \
	    "output: $(cat "$tmp/out")"
fi
# keygen with the file from the environment.
FORKD_KEY_FILE=$tmp/envkey "$FORKCTL" keygen >"$tmp/out" 2>&1
rc=$?
if ((rc == 0)) && [[ -f $tmp/envkey ]]; then
	pass "keygen uses \$FORKD_KEY_FILE"
else
	fail "keygen uses \$FORKD_KEY_FILE" "exit $rc: $(cat "$tmp/out")"
fi

# ---- start forkd -----------------------------------------------------------

FORKD_TEST_MARKER=daemon "$FORKD" -s "$sock" -k "$key" \
    -m "$MODDIR/pi.so" -m "$MODDIR/bench.so" </dev/null \
    >"$tmp/forkd.log" 2>&1 &
forkd_pid=$!
ready=0
for _ in $(seq 1 400); do
	if "$FORKCTL" -s "$sock" -k "$key" ping >/dev/null 2>&1; then
		ready=1
		break
	fi
	if ! kill -0 "$forkd_pid" 2>/dev/null; then
		break
	fi
	sleep 0.05
done
if ((!ready)); then
	fail "forkd starts" "forkd log:" "$(tail -20 "$tmp/forkd.log")"
	echo "$passed passed, $failed failed"
	exit 1
fi
pass "forkd starts and answers forkctl ping"

# ---- ping, status ----------------------------------------------------------

fc ping
if expect_rc "ping" 0; then
	if [[ $out =~ ^pong\ \([0-9]+\ us\)$ ]]; then
		pass "ping prints 'pong (N us)'"
	else
		fail "ping prints 'pong (N us)'" "stdout: $out"
	fi
fi

out=$(FORKD_SOCKET=$sock FORKD_KEY_FILE=$key "$FORKCTL" ping 2>&1)
rc=$?
if ((rc == 0)) && [[ $out == pong* ]]; then
	pass "ping with \$FORKD_SOCKET and \$FORKD_KEY_FILE"
else
	fail "ping with \$FORKD_SOCKET and \$FORKD_KEY_FILE" "exit $rc: $out"
fi

# Global options after the subcommand.
out=$("$FORKCTL" ping -s "$sock" -k "$key" 2>&1)
rc=$?
if ((rc == 0)) && [[ $out == pong* ]]; then
	pass "global options after the subcommand"
else
	fail "global options after the subcommand" "exit $rc: $out"
fi

fc status
if expect_rc "status" 0; then
	missing=
	for w in pi bench leibniz noop "$forkd_pid"; do
		grep -qw -- "$w" <<<"$out" || missing+=" $w"
	done
	if [[ -z $missing ]]; then
		pass "status shows pid, modules and entries"
	else
		fail "status shows pid, modules and entries" \
		    "missing:$missing" "stdout: $out"
	fi
fi

fc --json status
if expect_rc "--json status" 0; then
	if python3 -m json.tool <<<"$out" >/dev/null 2>"$tmp/json.err"; then
		pass "status --json is valid JSON"
	else
		fail "status --json is valid JSON" "$(cat "$tmp/json.err")" \
		    "stdout: $out"
	fi
	if python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
s = json.dumps(d)
assert str('"$forkd_pid"') in s, "pid"
assert "bench" in s and "pi" in s, "modules"
' <<<"$out" 2>"$tmp/json.err"; then
		pass "status --json holds pid and modules"
	else
		fail "status --json holds pid and modules" \
		    "$(tail -1 "$tmp/json.err")" "stdout: $out"
	fi
fi

fc status --json
if ((rc == 0)) && python3 -m json.tool <<<"$out" >/dev/null 2>&1; then
	pass "status --json (option after the subcommand)"
else
	fail "status --json (option after the subcommand)" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi

# ---- spawn --wait exit codes -------------------------------------------------

for code in 0 1 255; do
	fc spawn --wait bench:exit -- "$code"
	expect_rc "spawn --wait bench:exit $code" "$code"
done
fc spawn --wait bench:crash
expect_rc "spawn --wait bench:crash exits 128+11" 139
fc spawn --wait /bin/sh -- -c 'kill -TERM $$'
expect_rc "spawn --wait of a child killed by SIGTERM exits 128+15" 143

# stdio is forkctl's with --wait.
fc spawn --wait pi:hello
if ((rc == 0)) && [[ $out =~ ^hello\ from\ forkd\ child\ [0-9]+$ ]]; then
	pass "spawn --wait passes forkctl's stdout to the child"
else
	fail "spawn --wait passes forkctl's stdout to the child" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi
out=$(printf 'through stdin\n' | "$FORKCTL" -s "$sock" -k "$key" \
    spawn --wait bench:echo 2>"$tmp/stderr")
rc=$?
if ((rc == 0)) && [[ $out == "through stdin" ]]; then
	pass "spawn --wait passes forkctl's stdin to the child"
else
	fail "spawn --wait passes forkctl's stdin to the child" "exit $rc" \
	    "stdout: $out" "stderr: $(cat "$tmp/stderr")"
fi

# --env, --clear-env, --cwd
fc spawn --wait --env FOO=bar --env FORKD_TEST_MARKER=client bench:env
if ((rc == 0)) && grep -qx 'FOO=bar' <<<"$out" &&
    grep -qx 'FORKD_TEST_MARKER=client' <<<"$out" &&
    ! grep -qx 'FORKD_TEST_MARKER=daemon' <<<"$out"; then
	pass "spawn --env adds and replaces variables"
else
	fail "spawn --env adds and replaces variables" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi
fc spawn --wait --clear-env --env ONLY=1 bench:env
if ((rc == 0)) && [[ $out == "ONLY=1" ]]; then
	pass "spawn --clear-env"
else
	fail "spawn --clear-env" "exit $rc" "stdout: $out" "stderr: $err"
fi
fc spawn --wait --cwd "$tmp" bench:cwd
if ((rc == 0)) && [[ $out == "$(cd "$tmp" && pwd -P)" ]]; then
	pass "spawn --cwd"
else
	fail "spawn --cwd" "exit $rc" "stdout: $out" "stderr: $err"
fi

# Errors from the daemon: exit 1 with "forkctl: ..." on stderr.
fc spawn --wait nosuchmodule:noop
if ((rc == 1)) && [[ $err == forkctl:* ]]; then
	pass "spawn of an unknown target exits 1 with a message"
else
	fail "spawn of an unknown target exits 1 with a message" "exit $rc" \
	    "stderr: $err"
fi
fc spawn --wait --cwd /nonexistent-forkctl-test bench:noop
if ((rc == 1)) && [[ $err == *chdir* ]]; then
	pass "spawn with a bad --cwd exits 1 naming chdir"
else
	fail "spawn with a bad --cwd exits 1 naming chdir" "exit $rc" \
	    "stderr: $err"
fi

# ---- spawn, ps, kill, wait -------------------------------------------------

fc spawn --name psleeper bench:sleep -- 30
if expect_rc "spawn --name psleeper" 0; then
	if [[ $out =~ ^([0-9]+)\ psleeper$ ]]; then
		spid=${BASH_REMATCH[1]}
		pass "spawn prints 'PID NAME'"
	else
		spid=
		fail "spawn prints 'PID NAME'" "stdout: $out"
	fi
fi

fc ps
if expect_rc "ps" 0; then
	line=$(grep -w psleeper <<<"$out")
	if [[ -n $line && -n ${spid:-} ]] && grep -qw "$spid" <<<"$line" &&
	    grep -q 'bench:sleep' <<<"$line"; then
		pass "ps lists the child with pid, name and target"
	else
		fail "ps lists the child with pid, name and target" \
		    "stdout: $out"
	fi
fi
fc --json ps
if ((rc == 0)) && python3 -m json.tool <<<"$out" >/dev/null 2>&1 &&
    grep -q psleeper <<<"$out"; then
	pass "ps --json is valid JSON and lists the child"
else
	fail "ps --json is valid JSON and lists the child" "exit $rc" \
	    "stdout: $out"
fi

fc kill psleeper
expect_rc "kill by name" 0
fc wait psleeper
if expect_rc "wait for the killed child" 0; then
	if [[ $out =~ ^${spid:-x}\ psleeper\ -15$ ]]; then
		pass "wait prints 'PID NAME -15' after kill"
	else
		fail "wait prints 'PID NAME -15' after kill" "stdout: $out"
	fi
fi

fc spawn --name ksleeper bench:sleep -- 30
fc kill -s KILL ksleeper
expect_rc "kill -s KILL" 0
fc wait ksleeper
if ((rc == 0)) && [[ $out == *" ksleeper -9" ]]; then
	pass "kill -s KILL gives exit code -9"
else
	fail "kill -s KILL gives exit code -9" "exit $rc" "stdout: $out"
fi
fc kill no-such-child
if ((rc == 1)) && [[ $err == forkctl:* ]]; then
	pass "kill of an unknown child exits 1"
else
	fail "kill of an unknown child exits 1" "exit $rc" "stderr: $err"
fi

fc spawn --name wsleeper bench:sleep -- 30
start=$(date +%s%N)
fc wait --timeout 0.3 wsleeper
elapsed=$((($(date +%s%N) - start) / 1000000))
if ((rc == 124)) && ((elapsed < 5000)); then
	pass "wait --timeout exits 124"
else
	fail "wait --timeout exits 124" "exit $rc after $elapsed ms" \
	    "stdout: $out" "stderr: $err"
fi
fc kill -s 9 wsleeper
fc wait wsleeper >/dev/null

fc spawn bench:exit -- 9
if [[ $out =~ ^([0-9]+)\ (exit-[0-9]+)$ ]]; then
	epid=${BASH_REMATCH[1]}
	ename=${BASH_REMATCH[2]}
	fc wait "$epid"
	if ((rc == 0)) && [[ $out == "$epid $ename 9" ]]; then
		pass "wait PID prints 'PID NAME 9' and exits 0"
	else
		fail "wait PID prints 'PID NAME 9' and exits 0" "exit $rc" \
		    "stdout: $out" "stderr: $err"
	fi
else
	fail "spawn bench:exit 9 prints 'PID exit-N'" "stdout: $out"
fi

# wait --any: the first of two.
fc spawn --name anyfast bench:sleep -- 0.1
fc spawn --name anyslow bench:sleep -- 30
fc wait --any --timeout 10 anyslow anyfast
if ((rc == 0)) && [[ $out == *" anyfast 0" ]]; then
	pass "wait --any returns the first to end"
else
	fail "wait --any returns the first to end" "exit $rc" "stdout: $out"
fi
fc kill -s KILL anyslow

# ---- help and usage ----------------------------------------------------------

# help_mentions CMD WORD...: "forkctl CMD --help" exits 0 and mentions WORDs.
help_mentions() {
	local cmd=$1 missing=
	shift
	out=$("$FORKCTL" "$cmd" --help 2>&1)
	rc=$?
	for w in "$@"; do
		grep -q -- "$w" <<<"$out" || missing+=" $w"
	done
	if ((rc == 0)) && [[ -z $missing ]]; then
		pass "$cmd --help"
	else
		fail "$cmd --help" "exit $rc, missing:$missing" "output: $out"
	fi
}
help_mentions keygen --force
help_mentions ping
help_mentions status
help_mentions spawn --wait --name --daemon --env --clear-env --cwd
help_mentions ps
help_mentions kill -s
help_mentions wait --timeout --any

out=$("$FORKCTL" --help 2>&1)
rc=$?
missing=
for w in keygen ping status spawn ps kill wait; do
	grep -qw -- "$w" <<<"$out" || missing+=" $w"
done
if ((rc == 0)) && [[ -z $missing ]]; then
	pass "forkctl --help lists the subcommands"
else
	fail "forkctl --help lists the subcommands" "exit $rc, missing:$missing"
fi
out=$("$FORKCTL" -V 2>&1)
rc=$?
if ((rc == 0)) && [[ -n $out ]]; then
	pass "forkctl -V"
else
	fail "forkctl -V" "exit $rc: $out"
fi

for args in "spawn --bogus bench:noop" "--bogus ping" "wait --frobnicate x" \
    "no-such-subcommand" "kill" "spawn"; do
	# shellcheck disable=SC2086
	fc $args
	if ((rc == 2)); then
		pass "usage error exits 2: forkctl $args"
	else
		fail "usage error exits 2: forkctl $args" "exit $rc" \
		    "stderr: $err"
	fi
done

# Connection failures exit 1.
out=$("$FORKCTL" -s "$tmp/no-such.sock" -k "$key" ping 2>&1)
rc=$?
if ((rc == 1)) && [[ $out == forkctl:* ]]; then
	pass "ping on a missing socket exits 1"
else
	fail "ping on a missing socket exits 1" "exit $rc: $out"
fi
out=$("$FORKCTL" -s "$sock" -k "$tmp/envkey" ping 2>&1)
rc=$?
if ((rc == 1)) && [[ $out == forkctl:* ]]; then
	pass "ping with a wrong key exits 1"
else
	fail "ping with a wrong key exits 1" "exit $rc: $out"
fi

# ---- the pi demo: 4 parallel slices --------------------------------------------

slice=1000000
pids=()
for i in 0 1 2 3; do
	"$FORKCTL" -s "$sock" -k "$key" spawn --wait pi:leibniz -- \
	    $((i * slice)) "$slice" >"$tmp/pi.$i" 2>"$tmp/pi.$i.err" &
	pids+=($!)
done
pirc=0
for p in "${pids[@]}"; do
	wait "$p" || pirc=$?
done
sum=$(cat "$tmp"/pi.[0-3] | python3 -c '
import sys, math
parts = [float(l) for l in sys.stdin.read().split()]
assert len(parts) == 4, parts
s = sum(parts)
print("%.9f" % s)
sys.exit(0 if abs(s - math.pi) < 1e-3 else 1)' 2>&1)
prc=$?
if ((pirc == 0 && prc == 0)); then
	pass "pi demo: 4 parallel leibniz slices sum to $sum"
else
	fail "pi demo: 4 parallel leibniz slices" "spawn exit $pirc" \
	    "sum: $sum" "outputs: $(cat "$tmp"/pi.[0-3] "$tmp"/pi.*.err)"
fi

# ---- stop forkd -----------------------------------------------------------------

kill -TERM "$forkd_pid"
for _ in $(seq 1 300); do
	if ! kill -0 "$forkd_pid" 2>/dev/null; then
		break
	fi
	sleep 0.05
done
if kill -0 "$forkd_pid" 2>/dev/null; then
	echo "forkd still running 15 s after SIGTERM; killing it" >&2
	kill -KILL "$forkd_pid"
fi
wait "$forkd_pid"
st=$?
forkd_pid=
if ((st == 0)); then
	pass "forkd exits 0 after SIGTERM"
else
	fail "forkd exits 0 after SIGTERM" "status $st" \
	    "$(tail -20 "$tmp/forkd.log")"
fi

echo "$passed passed, $failed failed"
((failed == 0))
