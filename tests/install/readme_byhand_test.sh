#!/bin/bash
# readme_byhand_test.sh BUILD_DIR SOURCE_DIR: run the README's "Run it by
# hand" step 3 as written (HOME in a temporary directory, ./build the build
# tree), then its step 4, and check that forkd answered, computed, and
# stopped (issue 16 item 18).
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
cleanup() {
	[[ -f $tmp/home/.forkd/forkd.pid ]] &&
	    kill -TERM "$(cat "$tmp/home/.forkd/forkd.pid")" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The third ```sh block of the section: step 3.
awk '/^## Run it by hand/ { on = 1; next } on && /^## / { exit }
    on && /^ *```sh$/ { n++; if (n == 3) { blk = 1; next } }
    blk && /^ *```$/ { exit } blk { sub(/^   /, ""); print }' \
    "$src/README.md" >"$tmp/step3.sh"
grep -q 'nohup ./build/daemon/forkd' "$tmp/step3.sh" || fail "no step 3 in the README"
mkdir "$tmp/home"
ln -s "$(cd "$build" && pwd)" "$tmp/build"
out=$(cd "$tmp" && HOME=$tmp/home timeout 60 bash -e "$tmp/step3.sh" 2>&1) ||
	{ cat "$tmp/home/.forkd/forkd.log" >&2 || true; fail "step 3 failed: $out"; }
grep -q '^pong (' <<<"$out" || fail "no pong: $out"
grep -q '^3\.14' <<<"$out" || fail "no partial sum of pi: $out"
[[ $(stat -c %a "$tmp/home/.forkd/key") == 600 ]] || fail "key mode"
pid=$(cat "$tmp/home/.forkd/forkd.pid")
kill -0 "$pid" || fail "forkd did not keep running"
# Step 4, as written.
stop=$(sed -n 's/^4\. Stop it: `\(.*\)` (SIGTERM.*/\1/p' "$src/README.md")
[[ -n $stop ]] || fail "no step 4 in the README"
(cd "$tmp" && HOME=$tmp/home bash -c "$stop") || fail "step 4: $stop"
for ((i = 0; i < 100; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
! kill -0 "$pid" 2>/dev/null || fail "forkd still runs after step 4"
[[ ! -e $tmp/home/.forkd/forkd.sock ]] || fail "socket left behind"
rm -f "$tmp/home/.forkd/forkd.pid"
echo "README run-by-hand: passed"
