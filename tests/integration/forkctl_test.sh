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
forkd2_pid=
forkd3_pid=
cgroot=
passed=0
failed=0
skipped=0

cleanup() {
	if [[ -n $forkd_pid ]] && kill -0 "$forkd_pid" 2>/dev/null; then
		kill -KILL "$forkd_pid" 2>/dev/null
		wait "$forkd_pid" 2>/dev/null
	fi
	if [[ -n $forkd2_pid ]] && kill -0 "$forkd2_pid" 2>/dev/null; then
		kill -KILL "$forkd2_pid" 2>/dev/null
		wait "$forkd2_pid" 2>/dev/null
	fi
	if [[ -n $forkd3_pid ]] && kill -0 "$forkd3_pid" 2>/dev/null; then
		kill -KILL "$forkd3_pid" 2>/dev/null
		wait "$forkd3_pid" 2>/dev/null
	fi
	# The test's own cgroup root: leaf cgroups first.
	if [[ -n $cgroot && -d $cgroot ]]; then
		find "$cgroot" -mindepth 1 -depth -type d -exec rmdir {} + \
		    2>/dev/null
		rmdir "$cgroot" 2>/dev/null ||
		    echo "forkctl_test: could not remove $cgroot" >&2
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

skip() {
	skipped=$((skipped + 1))
	echo "skip $1: $2"
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
	"$FORKCTL" -s "${fc_sock:-$sock}" -k "$key" "$@" </dev/null \
	    >"$tmp/stdout" 2>"$tmp/stderr"
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

# await_forkd SOCK PID: wait up to 20 s until the forkd PID answers a ping
# on SOCK; 1 if it does not (or exits first).
await_forkd() {
	for _ in $(seq 1 400); do
		"$FORKCTL" -s "$1" -k "$key" ping >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# expect_err NAME RC NEEDLE CMD...: run CMD, its stdout to $out_to
# (default /dev/null), and check its exit status is RC and its stderr
# mentions NEEDLE.
expect_err() {
	local name=$1 want=$2 needle=$3

	shift 3
	"$@" >"${out_to:-/dev/null}" 2>"$tmp/stderr"
	rc=$?
	if ((rc == want)) && grep -q -- "$needle" "$tmp/stderr"; then
		pass "$name"
	else
		fail "$name" "exit $rc, expected $want" \
		    "stderr: $(cat "$tmp/stderr")"
	fi
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
# --force replaces a key file, never a FIFO (or a device: /dev/null) nor
# a symbolic link.
mkfifo "$tmp/fifo"
ln -s "$key" "$tmp/keylink"
for f in fifo keylink; do
	"$FORKCTL" keygen --force "$tmp/$f" >"$tmp/out" 2>&1
	rc=$?
	if ((rc == 125)) && grep -q "not a regular file" "$tmp/out" &&
	    { [[ $f == fifo && -p $tmp/fifo ]] ||
	    [[ $f == keylink && -L $tmp/keylink ]]; }; then
		pass "keygen --force refuses to replace a $f"
	else
		fail "keygen --force refuses to replace a $f" "exit $rc" \
		    "output: $(cat "$tmp/out")" "$(ls -l "$tmp/$f")"
	fi
done
rm -f "$tmp/fifo" "$tmp/keylink"
# keygen with the file from the environment.
FORKD_KEY_FILE=$tmp/envkey "$FORKCTL" keygen >"$tmp/out" 2>&1
rc=$?
if ((rc == 0)) && [[ -f $tmp/envkey ]]; then
	pass "keygen uses \$FORKD_KEY_FILE"
else
	fail "keygen uses \$FORKD_KEY_FILE" "exit $rc: $(cat "$tmp/out")"
fi

# "-" is not standard output here, nor a file named "-".
(cd "$tmp" && "$FORKCTL" keygen - >"$tmp/out" 2>&1)
rc=$?
if ((rc == 125)) && [[ ! -e $tmp/- ]] && grep -q "standard output" "$tmp/out"
then
	pass "keygen - is a usage error (exit 125), no file written"
else
	fail "keygen - is a usage error (exit 125), no file written" \
	    "exit $rc: $(cat "$tmp/out")" "$(ls -la "$tmp")"
fi

# ---- start forkd -----------------------------------------------------------

FORKD_TEST_MARKER=daemon "$FORKD" -s "$sock" -k "$key" \
    -m "$MODDIR/pi.so" -m "$MODDIR/bench.so" -m "$MODDIR/testing.so" </dev/null \
    >"$tmp/forkd.log" 2>&1 &
forkd_pid=$!
if ! await_forkd "$sock" "$forkd_pid"; then
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
fc spawn --wait testing:crash
expect_rc "spawn --wait testing:crash exits 128+11" 139
fc spawn --wait /bin/sh -- -c 'kill -TERM $$'
expect_rc "spawn --wait of a child killed by SIGTERM exits 128+15" 143
# --timeout: 124, and the line on stderr that says why, with --json too
# (the JSON on stdout says timed_out).
for json in "" --json; do
	# shellcheck disable=SC2086
	fc $json spawn --wait --timeout 300ms bench:sleep 10
	if ((rc == 124)) && [[ $err == *"timed out after 300 ms"* ]] &&
	    { [[ -z $json ]] || [[ $out == *'"timed_out":true'* ]]; }; then
		pass "spawn --wait --timeout${json:+ $json}: 124 and a line on stderr"
	else
		fail "spawn --wait --timeout${json:+ $json}: 124 and a line on stderr" \
		    "exit $rc" "stdout: $out" "stderr: $err"
	fi
done

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
fc spawn --wait --env FOO=bar --env FORKD_TEST_MARKER=client testing:env
if ((rc == 0)) && grep -qx 'FOO=bar' <<<"$out" &&
    grep -qx 'FORKD_TEST_MARKER=client' <<<"$out" &&
    ! grep -qx 'FORKD_TEST_MARKER=daemon' <<<"$out"; then
	pass "spawn --env adds and replaces variables"
else
	fail "spawn --env adds and replaces variables" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi
fc spawn --wait --clear-env --env ONLY=1 testing:env
if ((rc == 0)) && [[ $out == "ONLY=1" ]]; then
	pass "spawn --clear-env"
else
	fail "spawn --clear-env" "exit $rc" "stdout: $out" "stderr: $err"
fi
fc spawn --wait --cwd "$tmp" testing:cwd
if ((rc == 0)) && [[ $out == "$(cd "$tmp" && pwd -P)" ]]; then
	pass "spawn --cwd"
else
	fail "spawn --cwd" "exit $rc" "stdout: $out" "stderr: $err"
fi

# Errors from the daemon: 127 for no such target, 126 for one that could
# not be started, with "forkctl: ..." on stderr.
fc spawn --wait nosuchmodule:noop
if ((rc == 127)) && [[ $err == forkctl:* ]]; then
	pass "spawn of an unknown target exits 127 with a message"
else
	fail "spawn of an unknown target exits 127 with a message" \
	    "exit $rc" "stderr: $err"
fi
fc spawn --wait --cwd /nonexistent-forkctl-test bench:noop
if ((rc == 126)) && [[ $err == *chdir* ]]; then
	pass "spawn with a bad --cwd exits 126 naming chdir"
else
	fail "spawn with a bad --cwd exits 126 naming chdir" "exit $rc" \
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

# A target that would drive a terminal (ESC, a C1 CSI, a byte that is not
# UTF-8) is listed with '?' for them; UTF-8 text stays as it is.
odd=$tmp/$'sl\e[31m\xc2\x9b\xff-\xc3\xa9'
ln -s /bin/sleep "$odd"
fc spawn --name oddtarget "$odd" -- 30
fc ps
line=$(grep -a -w oddtarget <<<"$out")
if [[ -n $line ]] && ! LC_ALL=C grep -aq $'[\x1b\x9b\xff]' <<<"$line" &&
    [[ $line == *"sl?[31m??-"$'\xc3\xa9'* ]]; then
	pass "ps shows control bytes of a target as '?'"
else
	fail "ps shows control bytes of a target as '?'" \
	    "line: $(od -c <<<"$line" | head -5)"
fi
fc kill -s 9 oddtarget
fc wait oddtarget >/dev/null
rm -f "$odd"

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
if ((rc == 125)) && [[ $err == forkctl:* ]]; then
	pass "kill of an unknown child exits 125"
else
	fail "kill of an unknown child exits 125" "exit $rc" "stderr: $err"
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
# The same durations as spawn --timeout: with a unit, and nothing else.
fc wait --timeout 300ms wsleeper
expect_rc "wait --timeout 300ms exits 124" 124
for t in 1e3 0x10 +1 5x; do
	fc wait --timeout "$t" wsleeper
	expect_rc "wait --timeout $t is a usage error" 125
done
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
# Help and version that cannot be written are a failure, not a silent 0.
if [[ -w /dev/full ]]; then
	for args in "--help" "-V" "help spawn" "spawn --help"; do
		# shellcheck disable=SC2086
		out_to=/dev/full expect_err \
		    "forkctl $args to a full disk exits 125" 125 "write error" \
		    "$FORKCTL" $args
	done
else
	skip "forkctl --help to a full disk" "no writable /dev/full"
fi

for args in "spawn --bogus bench:noop" "--bogus ping" "wait --frobnicate x" \
    "no-such-subcommand" "kill" "spawn"; do
	# shellcheck disable=SC2086
	fc $args
	if ((rc == 125)); then
		pass "usage error exits 125: forkctl $args"
	else
		fail "usage error exits 125: forkctl $args" "exit $rc" \
		    "stderr: $err"
	fi
done
expect_err "usage error exits 125: spawn --name ''" 125 "--name: empty" \
    "$FORKCTL" -s "$sock" -k "$key" spawn --name "" bench:noop
# An empty socket or key path, before or after the command.
expect_err "usage error exits 125: -s ''" 125 "empty path" "$FORKCTL" -s "" ping
expect_err "usage error exits 125: ping -s ''" 125 "empty path" \
    "$FORKCTL" ping -s ""
expect_err "usage error exits 125: -k ''" 125 "empty path" "$FORKCTL" -k "" ping
expect_err "usage error exits 125: ping --key ''" 125 "empty path" \
    "$FORKCTL" ping --key ""

# Connection failures exit 125.
out=$("$FORKCTL" -s "$tmp/no-such.sock" -k "$key" ping 2>&1)
rc=$?
if ((rc == 125)) && [[ $out == forkctl:* ]]; then
	pass "ping on a missing socket exits 125"
else
	fail "ping on a missing socket exits 125" "exit $rc: $out"
fi
out=$("$FORKCTL" -s "$sock" -k "$tmp/envkey" ping 2>&1)
rc=$?
if ((rc == 125)) && [[ $out == forkctl:* ]]; then
	pass "ping with a wrong key exits 125"
else
	fail "ping with a wrong key exits 125" "exit $rc: $out"
fi

# ---- issue 16: forkctl in scripts -----------------------------------------

# --detach inside $(...): returns at once although the child runs on (it
# holds /dev/null, not the $(...) pipe), and prints "PID NAME".
start=$(date +%s%N)
dout=$("$FORKCTL" -s "$sock" -k "$key" spawn --detach --name det1 \
    bench:sleep 3 2>"$tmp/stderr")
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if ((rc == 0 && ms < 2000)) && [[ $dout =~ ^([0-9]+)\ det1$ ]]; then
	pass "pid=\$(forkctl spawn --detach bench:sleep 3) returns at once ($ms ms)"
else
	fail "pid=\$(forkctl spawn --detach bench:sleep 3) returns at once" \
	    "exit $rc after $ms ms" "stdout: $dout" "stderr: $(cat "$tmp/stderr")"
fi
fc ps
if [[ $out == *det1* ]]; then
	pass "spawn --detach: the child still runs"
else
	fail "spawn --detach: the child still runs" "ps: $out"
fi
fc kill -s KILL det1
fc wait det1
# Its stdio was /dev/null: testing:fds lists 0 1 2 and nothing else, and
# what forkctl's fd 0..2 were does not matter.
fc spawn --detach --wait bench:noop
if ((rc == 125)) && [[ $err == *"--detach"* ]]; then
	pass "spawn --detach --wait is a usage error (125)"
else
	fail "spawn --detach --wait is a usage error (125)" "exit $rc" \
	    "stderr: $err"
fi

# Without --wait the child's stdin is /dev/null, not forkctl's.
echo "from forkctl's stdin" >"$tmp/in.txt"
"$FORKCTL" -s "$sock" -k "$key" spawn --name nowait-echo \
    --stdout "$tmp/nowait.out" bench:echo <"$tmp/in.txt" >/dev/null 2>&1
fc wait nowait-echo
if ((rc == 0)) && [[ ! -s $tmp/nowait.out ]]; then
	pass "spawn without --wait: stdin is /dev/null"
else
	fail "spawn without --wait: stdin is /dev/null" "exit $rc" \
	    "child read: $(cat "$tmp/nowait.out")"
fi
# ... and with --wait it is forkctl's.
out=$("$FORKCTL" -s "$sock" -k "$key" spawn -w bench:echo <"$tmp/in.txt" \
    2>&1)
if [[ $out == "from forkctl's stdin" ]]; then
	pass "spawn --wait: stdin is forkctl's"
else
	fail "spawn --wait: stdin is forkctl's" "output: $out"
fi

# --stdin/--stdout/--stderr FILE, '>>FILE', null; relative to forkctl's
# directory (the child runs in /).
(cd "$tmp" && "$FORKCTL" -s "$sock" -k "$key" spawn -w --stdin in.txt \
    --stdout rel.out bench:echo </dev/null >/dev/null 2>&1)
if [[ $(cat "$tmp/rel.out" 2>/dev/null) == "from forkctl's stdin" ]]; then
	pass "spawn --stdin FILE --stdout FILE, relative to forkctl's cwd"
else
	fail "spawn --stdin FILE --stdout FILE" \
	    "rel.out: $(cat "$tmp/rel.out" 2>&1)"
fi
fc spawn -w --stdout "$tmp/app.out" -- /bin/echo one
fc spawn -w --stdout ">>$tmp/app.out" -- /bin/echo two
fc spawn -w --stdout ">$tmp/trunc.out" -- /bin/echo three
if [[ $(cat "$tmp/app.out") == $'one\ntwo' &&
    $(cat "$tmp/trunc.out") == three ]]; then
	pass "spawn --stdout '>>FILE' appends, FILE and '>FILE' truncate"
else
	fail "spawn --stdout '>>FILE' appends" "app.out: $(cat "$tmp/app.out")"
fi
fc spawn -w --stderr "$tmp/err.out" -- /bin/sh -c 'echo oops >&2'
if ((rc == 0)) && [[ -z $err && $(cat "$tmp/err.out") == oops ]]; then
	pass "spawn --stderr FILE"
else
	fail "spawn --stderr FILE" "exit $rc" "stderr: $err" \
	    "err.out: $(cat "$tmp/err.out")"
fi
fc spawn -w --stdout null -- /bin/echo gone
if ((rc == 0)) && [[ -z $out ]]; then
	pass "spawn --stdout null"
else
	fail "spawn --stdout null" "exit $rc" "stdout: $out"
fi
fc spawn -w --stdout "$tmp/no-such-dir/x" -- /bin/true
if ((rc == 125)) && [[ $err == *"no-such-dir/x"* ]]; then
	pass "spawn --stdout into a missing directory: 125 naming the file"
else
	fail "spawn --stdout into a missing directory" "exit $rc" \
	    "stderr: $err"
fi

# --fd N=FILE and N=inherit: fds beyond stdio.
fc spawn -w --fd "3=$tmp/fd3.out" -- /bin/sh -c 'echo three >&3'
if ((rc == 0)) && [[ $(cat "$tmp/fd3.out") == three ]]; then
	pass "spawn --fd 3=FILE"
else
	fail "spawn --fd 3=FILE" "exit $rc" "stderr: $err" \
	    "fd3.out: $(cat "$tmp/fd3.out" 2>&1)"
fi
out=$("$FORKCTL" -s "$sock" -k "$key" spawn -w --fd 4=inherit -- \
    /bin/sh -c 'echo four >&4' 4>&1 </dev/null 2>"$tmp/stderr")
if [[ $out == four ]]; then
	pass "spawn --fd 4=inherit passes forkctl's fd 4"
else
	fail "spawn --fd 4=inherit" "stdout: $out" \
	    "stderr: $(cat "$tmp/stderr")"
fi
# A file forkctl opens for one option is never taken for forkctl's own fd
# N of a later N=inherit (fd 5 is closed here).
"$FORKCTL" -s "$sock" -k "$key" spawn -w --stdout "$tmp/fd5.out" \
    --fd 5=inherit -- /bin/true </dev/null >/dev/null 2>"$tmp/stderr" 5>&-
rc=$?
err=$(cat "$tmp/stderr")
if ((rc == 125)) && [[ $err == *"fd 5 is not open"* ]]; then
	pass "spawn --fd 5=inherit with fd 5 closed: 125, not another file"
else
	fail "spawn --fd 5=inherit with fd 5 closed" "exit $rc" \
	    "stderr: $err"
fi
for bad in "1=x" "3" "64=x" "3="; do
	fc spawn -w --fd "$bad" -- /bin/true
	if ((rc == 125)) && [[ $err == *"--fd"* ]]; then
		pass "spawn --fd $bad is a usage error (125)"
	else
		fail "spawn --fd $bad is a usage error (125)" "exit $rc" \
		    "stderr: $err"
	fi
done

# --json: forkctl's stdout is JSON only, the child's stdout its stderr.
fc --json spawn -w -- /bin/echo child-says
if ((rc == 0)) && [[ $err == *child-says* ]] && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["exitcode"] == 0, d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "spawn --wait --json: the child's output goes to stderr"
else
	fail "spawn --wait --json: the child's output goes to stderr" \
	    "exit $rc" "stdout: $out" "stderr: $err" "$(cat "$tmp/json.err")"
fi

# Exit statuses: 127 no such target, 126 could not start, the child's own
# otherwise, 125 forkctl/forkd failed.
fc spawn -w /nonexistent-forkctl-test
expect_rc "spawn --wait /nonexistent exits 127" 127
fc spawn -w no-such-program-forkctl-test
expect_rc "spawn --wait of a name not in \$PATH exits 127" 127
fc spawn -w /bin/false
expect_rc "spawn --wait /bin/false exits 1" 1
printf '#!/bin/sh\nexit 0\n' >"$tmp/noexec.sh"
chmod 644 "$tmp/noexec.sh"
fc spawn -w "$tmp/noexec.sh"
expect_rc "spawn --wait of a non-executable file exits 126" 126
fc spawn -w bench:exit -- 2
expect_rc "spawn --wait of a child exiting 2 exits 2" 2
fc spawn --bogus-option bench:noop
expect_rc "forkctl's own usage error exits 125" 125
"$FORKCTL" -s "$tmp/nosock" -k "$key" spawn -w bench:noop \
    </dev/null >/dev/null 2>&1
rc=$?
if ((rc == 125)); then
	pass "spawn with forkd not there exits 125"
else
	fail "spawn with forkd not there exits 125" "exit $rc"
fi

# --json errors: a JSON record on stdout, text on stderr.
fc --json spawn -w bench:no-such-entry
if ((rc == 127)) && [[ $err == forkctl:* ]] && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["errno"] == 2 and d["step"] == "spawn" and d["exit"] == 127, d
assert "no-such-entry" in d["error"], d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "--json spawn error: {error, errno, step, exit} on stdout"
else
	fail "--json spawn error on stdout" "exit $rc" "stdout: $out" \
	    "stderr: $err" "$(cat "$tmp/json.err")"
fi
fc_sock=$tmp/nosock fc --json ping
if ((rc == 125)) && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["step"] in ("connect", "key"), d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "--json connection error is JSON on stdout"
else
	fail "--json connection error is JSON on stdout" "exit $rc" \
	    "stdout: $out" "$(cat "$tmp/json.err")"
fi
fc --json wait --bogus
if ((rc == 125)) && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["step"] == "usage" and d["errno"] == 22, d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "--json usage error is JSON on stdout"
else
	fail "--json usage error is JSON on stdout" "exit $rc" \
	    "stdout: $out" "$(cat "$tmp/json.err")"
fi
fc --json wait no-such-child-forkctl
if ((rc == 125)) && python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert json.loads(lines[0]) == [], lines
assert json.loads(lines[1])["step"] == "wait", lines
' <<<"$out" 2>"$tmp/json.err"; then
	pass "--json wait error: the array, then the error record"
else
	fail "--json wait error: the array, then the error record" \
	    "exit $rc" "stdout: $out" "$(cat "$tmp/json.err")"
fi

fc --json kill no-such-child-forkctl
if ((rc == 125)) && python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert json.loads(lines[0])[0]["ok"] is False, lines
assert json.loads(lines[1])["step"] == "kill", lines
' <<<"$out" 2>"$tmp/json.err"; then
	pass "--json kill error: the array, then the error record"
else
	fail "--json kill error: the array, then the error record" \
	    "exit $rc" "stdout: $out" "$(cat "$tmp/json.err")"
fi

# ps -a: the exit history, CLIENT-UID and CHILD-UID.
fc spawn -w --name hist-3 bench:exit -- 3
fc ps
ps_plain=$out
fc ps -a
if ((rc == 0)) && [[ $ps_plain != *hist-3* ]] &&
    grep -q 'hist-3 .*exited 3' <<<"$out" &&
    grep -q 'CLIENT-UID  CHILD-UID' <<<"$out"; then
	pass "ps -a lists an ended child with its exit code; ps does not"
else
	fail "ps -a lists an ended child" "ps: $ps_plain" "ps -a: $out"
fi
fc --json ps -a
if ((rc == 0)) && python3 -c '
import json, os, sys
v = json.loads(sys.stdin.read())
h = [c for c in v if c["name"] == "hist-3"]
assert h and h[0]["ended"] and h[0]["exitcode"] == 3, v
assert h[0]["client_uid"] == os.getuid() and h[0]["run_uid"] == os.geteuid(), h
' <<<"$out" 2>"$tmp/json.err"; then
	pass "ps -a --json: ended, exitcode, client_uid, run_uid"
else
	fail "ps -a --json" "exit $rc" "stdout: $out" "$(cat "$tmp/json.err")"
fi

# An option of forkctl's after a module target goes to the child, with a
# warning; not after "TARGET --", nor after a program target.
fc spawn -w bench:noop --wait
if ((rc == 0)) && [[ $err == *"warning: --wait after bench:noop"* ]] &&
    (($(wc -l <<<"$err") == 1)); then
	pass "a forkctl option after a module target: one-line warning"
else
	fail "a forkctl option after a module target: one-line warning" \
	    "exit $rc" "stderr: $err"
fi
fc spawn -w bench:noop -- --wait
if ((rc == 0)) && [[ -z $err ]]; then
	pass "no warning after 'TARGET --'"
else
	fail "no warning after 'TARGET --'" "exit $rc" "stderr: $err"
fi
fc spawn -w /bin/echo --name
if ((rc == 0)) && [[ -z $err && $out == --name ]]; then
	pass "no warning after a program target; the word reaches it"
else
	fail "no warning after a program target" "exit $rc" "stdout: $out" \
	    "stderr: $err"
fi

# A death by signal under --wait prints a line, as a timeout does.
fc spawn -w testing:crash
if ((rc == 139)) && [[ $err == *"killed by signal 11 (SIGSEGV)"* ]]; then
	pass "spawn --wait: a death by signal prints a line"
else
	fail "spawn --wait: a death by signal prints a line" "exit $rc" \
	    "stderr: $err"
fi

# wait without names: the first of the caller's children to end.
fc ps
if [[ $(wc -l <<<"$out") == 1 ]]; then
	fc wait
	if ((rc == 125)) && [[ $err == *"no running children"* ]]; then
		pass "wait without names and no children: 125"
	else
		fail "wait without names and no children: 125" "exit $rc" \
		    "stderr: $err"
	fi
else
	skip "wait without names and no children" "children left: $out"
fi
fc spawn --name wn-long bench:sleep -- 30
fc spawn --name wn-short bench:sleep -- 0.3
start=$(date +%s%N)
fc wait
ms=$((($(date +%s%N) - start) / 1000000))
if ((rc == 0 && ms < 10000)) && [[ $out == *" wn-short 0" ]]; then
	pass "wait without names reports the first child to end ($ms ms)"
else
	fail "wait without names reports the first child to end" \
	    "exit $rc after $ms ms" "stdout: $out" "stderr: $err"
fi
fc kill -s KILL wn-long
fc wait wn-long

# An unknown command suggests the nearest one.
fc stauts
if ((rc == 125)) && [[ $err == *"did you mean 'status'"* ]]; then
	pass "unknown command 'stauts' suggests 'status'"
else
	fail "unknown command 'stauts' suggests 'status'" "exit $rc" \
	    "stderr: $err"
fi

fc help sawpn
if ((rc == 125)) && [[ $err == *"did you mean 'spawn'"* ]]; then
	pass "help sawpn suggests 'spawn'"
else
	fail "help sawpn suggests 'spawn'" "exit $rc" "stderr: $err"
fi
fc xyzzy
if ((rc == 125)) && [[ $err == *"unknown command 'xyzzy'"* &&
    $err != *"did you mean"* ]]; then
	pass "an unknown command like no other gets no suggestion"
else
	fail "an unknown command like no other gets no suggestion" \
	    "exit $rc" "stderr: $err"
fi

# Key and socket problems, each with its own message.
cp "$key" "$tmp/openkey"
chmod 644 "$tmp/openkey"
expect_err "a key readable by others is refused with forkd's message" 125 \
    "too open" "$FORKCTL" -s "$sock" -k "$tmp/openkey" ping
rm -f "$tmp/openkey"
: >"$tmp/notsock"
expect_err "a path that is not a socket: 'not a socket'" 125 \
    "not a socket" "$FORKCTL" -s "$tmp/notsock" -k "$key" ping
expect_err "neither key nor socket: forkd is not running, first" 125 \
    "^forkctl: forkd is not running" \
    "$FORKCTL" -s "$tmp/nosock" -k "$tmp/nokey" ping
if ((EUID == 0)) && id nobody >/dev/null 2>&1; then
	# Root reads any file: as nobody, whom the 0700 directory and the
	# 0600 key keep out.
	expect_err "an unreadable key hints at group forkd" 125 \
	    "usermod -aG forkd" setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$FORKCTL" -s "$sock" -k "$key" ping
elif ((EUID != 0)); then
	cp "$key" "$tmp/lockedkey"
	chmod 000 "$tmp/lockedkey"
	expect_err "an unreadable key hints at group forkd" 125 \
	    "usermod -aG forkd" "$FORKCTL" -s "$sock" -k "$tmp/lockedkey" ping
	rm -f "$tmp/lockedkey"
else
	skip "an unreadable key hints at group forkd" "no user nobody"
fi

# Completion: generated from the command table.
"$FORKCTL" completion bash >"$tmp/forkctl.bash"
# shellcheck disable=SC1090,SC2207
compl=$(bash -c '
	source "$1"
	complete_for() {
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_forkctl; echo "${COMPREPLY[*]}"
	}
	complete_for forkctl sta
	complete_for forkctl spawn --det
	complete_for forkctl ps -
	complete_for forkctl completion z
' _ "$tmp/forkctl.bash" 2>&1)
if [[ $compl == $'status\n--detach\n'*--all*$'\nzsh' ]]; then
	pass "bash completion of commands and each command's options"
else
	fail "bash completion" "got: $compl"
fi
if command -v zsh >/dev/null; then
	"$FORKCTL" completion zsh >"$tmp/_forkctl"
	if zsh -n "$tmp/_forkctl" && grep -q -- '--detach' "$tmp/_forkctl"
	then
		pass "zsh completion parses and lists spawn's options"
	else
		fail "zsh completion" "$(head -20 "$tmp/_forkctl")"
	fi
else
	skip "zsh completion" "no zsh"
fi
fc completion fish
expect_rc "completion fish is a usage error" 125

# status: each entry with its help; status MODULE; resolved paths.
fc status
if ((rc == 0)) && grep -q 'bench:noop  *return 0 at once' <<<"$out"; then
	pass "status shows each entry with its help"
else
	fail "status shows each entry with its help" "stdout: $out"
fi
fc status pi
if ((rc == 0)) && grep -q 'pi:leibniz  *START COUNT' <<<"$out" &&
    ! grep -q bench <<<"$out"; then
	pass "status MODULE lists that module's entries with their help"
else
	fail "status MODULE" "exit $rc" "stdout: $out"
fi
fc --json status bench
if ((rc == 0)) && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["name"] == "bench" and d["entry_help"]["noop"] == "return 0 at once", d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "status --json MODULE: entry_help"
else
	fail "status --json MODULE" "exit $rc" "stdout: $out" \
	    "$(cat "$tmp/json.err")"
fi
fc status no-such-module
if ((rc == 125)) && [[ $err == *"no module 'no-such-module'"*bench* ]]; then
	pass "status of an unknown module: 125 listing the loaded ones"
else
	fail "status of an unknown module" "exit $rc" "stderr: $err"
fi
# A module loaded by a relative path through a symbolic link is shown
# by its resolved path.
mkdir "$tmp/lnk"
ln -s "$MODDIR/bench.so" "$tmp/lnk/b.so"
(cd "$tmp/lnk" && exec "$FORKD" -s "$tmp/forkd3.sock" -k "$key" -m ./b.so \
    </dev/null >"$tmp/forkd3.log" 2>&1) &
forkd3_pid=$!
if await_forkd "$tmp/forkd3.sock" "$forkd3_pid"; then
	fc_sock=$tmp/forkd3.sock fc status bench
	real=$(realpath "$MODDIR/bench.so")
	if ((rc == 0)) && [[ $out == *"  $real"* && $out != *b.so* ]]; then
		pass "status shows a module's path resolved"
	else
		fail "status shows a module's path resolved" "want $real" \
		    "stdout: $out"
	fi
else
	fail "a third forkd starts" "$(tail -5 "$tmp/forkd3.log")"
fi
kill -TERM "$forkd3_pid" 2>/dev/null
wait "$forkd3_pid" 2>/dev/null
forkd3_pid=

# ---- child set-up (issue 5) --------------------------------------------------
#
# Each option of `forkctl spawn` is checked in the child itself (ulimit,
# /proc/self/{limits,status,stat,cgroup,ns}). These need the daemon side
# of issue 5: a forkd without it ignores the new request fields, and
# every check below that reads the child's state then FAILS (on purpose:
# none of them passes when the option is ignored). Usage errors are
# forkctl's own and pass with any daemon.

# expect_out NAME WANT: the last fc exited 0 and printed exactly WANT.
expect_out() {
	if ((rc == 0)) && [[ $out == "$2" ]]; then
		pass "$1"
		return 0
	fi
	fail "$1" "exit $rc, expected 0" "stdout: $out (expected: $2)" \
	    "stderr: $err"
	return 1
}

# Usage errors: exit 125 and a message naming the option.
for args in "--rlimit nofile" "--rlimit nofiles=5" "--rlimit nofile=5:1" \
    "--rlimit nofile=1K" "--umask 999" "--nice 20" "--cpus 2-1" \
    "--cpus 4096" "--timeout 5x" "--timeout 0" "--kill-grace 1s" \
    "--timeout 8d" "--gid 0" "--uid no-such-user-forkctl" \
    "--memory-max 12Q" "--pids-max 0" "--cpu-max 10" "--ns pid,cgroup" \
    "--pgroup --session"; do
	opt=${args%% *}
	# shellcheck disable=SC2086
	fc spawn $args bench:noop
	if ((rc == 125)) && [[ $err == *"$opt"* ]]; then
		pass "usage error exits 125: spawn $args"
	else
		fail "usage error exits 125: spawn $args" "exit $rc" \
		    "stderr: $err"
	fi
done
help_mentions spawn --rlimit --umask --nice --cpus --pgroup --session \
    --timeout --kill-grace --uid --gid --groups --no-new-privs \
    --drop-caps --cgroup --memory-max --pids-max --cpu-max --ns --pidfd

# rlimits: counts, sizes with suffixes, unlimited.
fc spawn -w --rlimit nofile=64 -- /bin/sh -c 'ulimit -n'
expect_out "spawn --rlimit nofile=64: ulimit -n in the child" 64
fc spawn -w --rlimit NOFILE=64:128 -- /bin/sh -c 'ulimit -Hn'
expect_out "spawn --rlimit NOFILE=64:128: hard limit 128" 128
# /proc/self/limits: "Max file size  SOFT  HARD  bytes" (file size first).
fc spawn -w --rlimit fsize=1M --rlimit core=0:unlimited -- /bin/sh -c \
    'awk "/^Max (file size|core file size) / { print \$(NF-2), \$(NF-1) }" \
    /proc/self/limits'
expect_out "spawn --rlimit fsize=1M --rlimit core=0:unlimited" \
    "1048576 1048576
0 unlimited"

# umask, nice, CPU affinity.
fc spawn -w --umask 027 -- /bin/sh -c umask
expect_out "spawn --umask 027" 0027
fc spawn -w --nice 7 -- /bin/sh -c 'exec nice'
expect_out "spawn --nice 7" 7
fc spawn -w --cpus 0 -- /bin/sh -c \
    'sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status'
expect_out "spawn --cpus 0" 0
# A step that fails is a spawn error naming it (no CPU 1000 here).
if [[ ! -e /sys/devices/system/cpu/cpu1000 ]]; then
	fc spawn -w --cpus 1000 -- /bin/true
	if ((rc == 126)) && [[ $err == *[Aa]ffinity* || $err == *[Cc][Pp][Uu]* ]]
	then
		pass "spawn --cpus 1000 is a spawn error naming affinity/CPU"
	else
		fail "spawn --cpus 1000 is a spawn error naming affinity/CPU" \
		    "exit $rc" "stderr: $err"
	fi
fi

# Session (default) or process group: fields 1, 5, 6 of /proc/PID/stat.
fc spawn -w -- /bin/sh -c 'cut -d" " -f1,5,6 /proc/$$/stat'
if ((rc == 0)) && [[ $out =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] &&
    [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" &&
    ${BASH_REMATCH[1]} == "${BASH_REMATCH[3]}" ]]; then
	pass "spawn: the child leads a new session by default"
else
	fail "spawn: the child leads a new session by default" "exit $rc" \
	    "pid pgrp sid: $out" "stderr: $err"
fi
fc spawn -w --pgroup -- /bin/sh -c 'cut -d" " -f1,5,6 /proc/$$/stat'
if ((rc == 0)) && [[ $out =~ ^([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] &&
    [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" &&
    ${BASH_REMATCH[1]} != "${BASH_REMATCH[3]}" ]]; then
	pass "spawn --pgroup: own process group, not a session leader"
else
	fail "spawn --pgroup: own process group, not a session leader" \
	    "exit $rc" "pid pgrp sid: $out" "stderr: $err"
fi

# Timeout: SIGTERM, exit status 124, "timed out" on stderr and in JSON.
t0=$(date +%s%N)
fc spawn -w --timeout 300ms -- /bin/sh -c 'sleep 5'
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if ((rc == 124 && ms < 10000)) && [[ $err == *"timed out"* ]]; then
	pass "spawn -w --timeout 300ms: killed after $ms ms, exit 124"
else
	fail "spawn -w --timeout 300ms" "exit $rc after $ms ms" \
	    "stderr: $err"
fi
# A child that ignores SIGTERM gets SIGKILL after --kill-grace. The timeout
# runs from the spawn: on a slow machine the SIGTERM can come before the
# shell has set its trap (no "ready" then), so again with a longer one.
for tmo in 200 800 3200; do
	fc --json spawn -w --timeout ${tmo}ms --kill-grace 300ms -- /bin/sh -c \
	    'trap "" TERM; echo ready; sleep 5'
	[[ $out == *ready* ]] && break
done
if ((rc == 124)) && python3 -c '
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
assert d["timed_out"] is True and d["exitcode"] == -9, d
assert d["oom_killed"] is False, d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "spawn --timeout --kill-grace: SIGKILL, timed_out in JSON"
else
	fail "spawn --timeout --kill-grace: SIGKILL, timed_out in JSON" \
	    "exit $rc" "stdout: $out" "stderr: $err" "$(cat "$tmp/json.err")"
fi
fc spawn --name tmo --timeout 200ms bench:sleep -- 5
fc wait --timeout 10 tmo
if ((rc == 0)) && [[ $out =~ ^[0-9]+\ tmo\ -15\ \(timed\ out\)$ ]]; then
	pass "wait says '(timed out)'"
else
	fail "wait says '(timed out)'" "exit $rc" "stdout: $out" \
	    "stderr: $err"
fi

# no_new_privs, capabilities.
fc spawn -w --no-new-privs -- /bin/sh -c \
    'sed -n "s/^NoNewPrivs:[[:space:]]*//p" /proc/self/status'
expect_out "spawn --no-new-privs" 1
fc spawn -w --drop-caps -- /bin/sh -c \
    'grep -E "^Cap(Inh|Bnd|Amb)" /proc/self/status | cut -f2 | sort -u'
expect_out "spawn --drop-caps: empty bounding, inheritable, ambient sets" \
    0000000000000000

# Namespaces: inodes differ from forkctl's (= forkd's); pid 1 inside.
for ns in uts ipc net mnt; do
	opt=$ns
	[[ $ns == mnt ]] && opt=mount
	mine=$(readlink "/proc/self/ns/$ns")
	fc spawn -w --ns "$opt" -- /bin/sh -c "readlink /proc/self/ns/$ns"
	if ((rc == 0)) && [[ -n $out && $out != "$mine" ]]; then
		pass "spawn --ns $opt: a new $ns namespace ($out)"
	else
		fail "spawn --ns $opt: a new $ns namespace" "exit $rc" \
		    "child: $out, forkctl: $mine" "stderr: $err"
	fi
done
fc spawn -w --ns pid -- /bin/sh -c 'echo $$'
expect_out "spawn --ns pid: the child is pid 1 inside" 1
fc spawn --ns pid --name pidns bench:sleep -- 30
if ((rc == 0)) && [[ $out =~ ^([0-9]+)\ pidns$ ]] &&
    [[ -d /proc/${BASH_REMATCH[1]} &&
    $(readlink "/proc/${BASH_REMATCH[1]}/ns/pid") != \
    "$(readlink /proc/self/ns/pid)" ]]; then
	pass "spawn --ns pid prints the pid as the host sees it"
else
	fail "spawn --ns pid prints the pid as the host sees it" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi
fc kill -s KILL pidns
fc spawn -w --ns user -- /bin/sh -c 'id -u; readlink /proc/self/ns/user'
if ((rc == 0)) && [[ $(head -1 <<<"$out") == 0 &&
    $(tail -1 <<<"$out") != "$(readlink /proc/self/ns/user)" ]]; then
	pass "spawn --ns user: uid 0 in a new user namespace"
else
	fail "spawn --ns user: uid 0 in a new user namespace" "exit $rc" \
	    "stdout: $out" "stderr: $err"
fi

# pidfds: passed back, and spawn --wait waits on it.
fc --json spawn --pidfd bench:sleep -- 0.1
if ((rc == 0)) && python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["pidfd"] is True, d
' <<<"$out" 2>"$tmp/json.err"; then
	pass "spawn --pidfd: forkd passes the pidfd"
else
	fail "spawn --pidfd: forkd passes the pidfd" "exit $rc" \
	    "stdout: $out" "stderr: $err" "$(cat "$tmp/json.err")"
fi
fc spawn -w --pidfd -- /bin/sh -c 'sleep 0.2; exit 7'
if ((rc == 7)) && [[ -z $err ]]; then
	pass "spawn -w --pidfd waits on the pidfd, exit status 7"
else
	fail "spawn -w --pidfd waits on the pidfd" "exit $rc" \
	    "stderr: $err"
fi

# Identity: refused by a forkd whose policy does not allow it (this one has
# no config, so allow_identity is nobody) ...
fc spawn -w --uid nobody -- /bin/sh -c 'id -u'
if ((rc == 126)) && [[ $err == *"ermission"* || $err == *"not permitted"* ]]
then
	pass "spawn --uid without allow_identity is refused (EPERM)"
else
	fail "spawn --uid without allow_identity is refused (EPERM)" \
	    "exit $rc" "stdout: $out" "stderr: $err"
fi

# ... and applied by a second forkd whose config allows root to ask, and
# which has a cgroup root of its own for the cgroup cases.
# The cgroup2 mount: the fstype follows the "-" after the optional fields.
cg2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") {
	if ($(i + 1) == "cgroup2") { print $5; exit } ; break } }' \
    /proc/self/mountinfo)
if [[ -n $cg2 && -w $cg2 ]]; then
	cgroot=$cg2/forkctl-test-$$
	mkdir "$cgroot" || cgroot=
fi
sock2=$tmp/forkd2.sock
{
	echo "[forkd]"
	if [[ -n $cgroot ]]; then
		echo "cgroup_root = $cgroot"
	else
		echo "cgroup_root = none"
	fi
	echo "[policy]"
	echo "allow_identity = $(id -u)"
} >"$tmp/forkd2.conf"
"$FORKD" -c "$tmp/forkd2.conf" -s "$sock2" -k "$key" \
    -m "$MODDIR/bench.so" </dev/null >"$tmp/forkd2.log" 2>&1 &
forkd2_pid=$!
ready=0
await_forkd "$sock2" "$forkd2_pid" && ready=1
if ((ready)); then
	pass "forkd with allow_identity and cgroup_root starts"
else
	fail "forkd with allow_identity and cgroup_root starts" \
	    "$(tail -5 "$tmp/forkd2.log")"
fi
if ((ready)) && (($(id -u) != 0)); then
	skip "spawn --uid/--gid/--groups" "forkd is not root here"
elif ((ready)); then
	fc_sock=$sock2 fc spawn -w --uid nobody --gid 65534 --groups 1,2 -- \
	    /bin/sh -c 'id -u; id -g; id -G'
	expect_out "spawn --uid nobody --gid 65534 --groups 1,2" \
	    "$(id -u nobody)
65534
65534 1 2"
fi
if ((ready)) && [[ -z $cgroot ]]; then
	skip "spawn --cgroup" "no writable cgroup2 hierarchy"
elif ((ready)); then
	fc_sock=$sock2 fc spawn -w --cgroup -- /bin/sh -c \
	    'sed -n "s/^0:://p" /proc/self/cgroup'
	if ((rc == 0)) && [[ $out == "${cgroot#"$cg2"}"/* ]]; then
		pass "spawn --cgroup: the child has a cgroup of its own ($out)"
	else
		fail "spawn --cgroup: the child has a cgroup of its own" \
		    "exit $rc" "cgroup: $out (root ${cgroot#"$cg2"})" \
		    "stderr: $err"
	fi
	# Limits: each needs its controller delegated to forkd's root.
	for lim in "memory --memory-max 64M memory.max 67108864" \
	    "pids --pids-max 16 pids.max 16" \
	    "cpu --cpu-max 50000 cpu.max 50000 100000"; do
		read -r ctl opt val file want <<<"$lim"
		if ! grep -qw "$ctl" "$cg2/cgroup.controllers"; then
			skip "spawn $opt" "no delegated $ctl controller"
			continue
		fi
		fc_sock=$sock2 fc spawn -w "$opt" "$val" -- /bin/sh -c \
		    "cat $cg2\$(sed -n 's/^0:://p' /proc/self/cgroup)/$file"
		expect_out "spawn $opt $val: $file in the child's cgroup" \
		    "$want"
	done
fi
if [[ -n $forkd2_pid ]]; then
	kill -TERM "$forkd2_pid" 2>/dev/null
	wait "$forkd2_pid" 2>/dev/null
	forkd2_pid=
fi

# ---- forkd started with fds 0-2 closed -------------------------------------
# Its /dev/null must not land on fd 0-2, where the zygote's and the pool's
# "close every fd from 3 up" would take their own sockets with it: the pool
# must still serve spawns.

sock3=$tmp/forkd3.sock
"$FORKD" -s "$sock3" -k "$key" -m "$MODDIR/bench.so" 0<&- 1>&- 2>&- &
forkd2_pid=$!
ready=0
await_forkd "$sock3" "$forkd2_pid" && ready=1
# pool_idle and pool_spawns of forkd3's status, as "IDLE SPAWNS".
pool3() {
	fc_sock=$sock3 fc --json status
	python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print(d["pool_idle"], d["pool_spawns"])' <<<"$out" 2>/dev/null
}
if ((ready)); then
	idle=0
	for _ in $(seq 1 100); do
		read -r idle served < <(pool3)
		((${idle:-0} > 0)) && break
		sleep 0.05
	done
	fc_sock=$sock3 fc spawn -w bench:noop
	src=$rc
	read -r _ served < <(pool3)
	if ((${idle:-0} > 0 && src == 0)) && [[ $served == 1 ]]; then
		pass "forkd started with fds 0-2 closed: the pool serves spawns"
	else
		fail "forkd started with fds 0-2 closed: the pool serves spawns" \
		    "idle children before the spawn: ${idle:-none}" \
		    "spawn: exit $src; pool spawns served: ${served:-none}"
	fi
	kill -TERM "$forkd2_pid" 2>/dev/null
	wait "$forkd2_pid"
	rc=$?
	if ((rc == 0)); then
		pass "forkd started with fds 0-2 closed stops with 0"
	else
		fail "forkd started with fds 0-2 closed stops with 0" "exit $rc"
	fi
else
	fail "forkd started with fds 0-2 closed: the pool serves spawns" \
	    "it did not answer a ping"
	kill -KILL "$forkd2_pid" 2>/dev/null
	wait "$forkd2_pid" 2>/dev/null
fi
forkd2_pid=

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

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
