#!/bin/bash
# run.sh: run every forkd libFuzzer target for a bounded time and fail on any
# crash, sanitizer report, leak or timeout.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET [BUILD_DIR [TARGET...]]]
#
# SECONDS_PER_TARGET defaults to 60, BUILD_DIR to ./build-fuzz (configured
# with CC=clang -DFORKD_FUZZ=ON; `cmake --build DIR --target fuzz`), TARGET
# to all of wire handshake request config plan. Each target starts from its
# seed corpus (tests/fuzz/corpus/fuzz_TARGET, copied to a temporary
# directory, so the committed seeds are never changed) and runs for
# SECONDS_PER_TARGET.
# Crashing inputs and the log of a failed target go to
# BUILD_DIR/fuzz-artifacts/TARGET/; reproduce one with
#   BUILD_DIR/tests/fuzz/fuzz_TARGET FILE
# (FORKD_FUZZ_LOG=debug shows forkd's log for the session targets). Prints
# each target's executions per second and libFuzzer's final coverage (cov:
# edges, ft: features). With FORKD_FUZZ_CORPUS_OUT=DIR the grown corpora are
# kept in DIR/fuzz_TARGET (e.g. to pick new seeds, or for a coverage report).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
secs=${1:-60}
build=${2:-build-fuzz}
if (($# > 2)); then
	targets=("${@:3}")
else
	targets=(wire handshake request config plan)
fi
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
	echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET [BUILD_DIR [TARGET...]]]" >&2
	exit 2
fi
build=$(cd "$build" 2>/dev/null && pwd) || {
	echo "run.sh: no build directory ${2:-build-fuzz}" >&2
	exit 2
}

# Our own sanitizer settings, not whatever the caller exported for its tests.
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
unset LSAN_OPTIONS

# Per-target libFuzzer options.
declare -A extra=(
	[wire]="-max_len=4096"
	[handshake]="-max_len=4096"
	[request]="-max_len=8192"
	[config]="-max_len=4096 -dict=$here/fuzz_config.dict"
	[plan]="-max_len=8192"
)

work=$(mktemp -d "${TMPDIR:-/tmp}/forkd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
summary=()

for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz_$t
	seeds=$here/corpus/fuzz_$t
	art=$build/fuzz-artifacts/$t
	if [[ ! -x $bin || ! -d $seeds ]]; then
		echo "run.sh: $bin or $seeds missing" >&2
		failed+=("$t")
		continue
	fi
	mkdir -p "$work/$t" "$art"
	cp "$seeds"/* "$work/$t/"
	nseeds=$(find "$work/$t" -type f | wc -l)
	echo "==> fuzz_$t: ${secs}s from $nseeds seeds"
	touch "$work/$t.start"
	# shellcheck disable=SC2086 # extra options are words
	timeout --kill-after=30 $((secs + 120)) "$bin" \
	    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/" \
	    ${extra[$t]:-} "$work/$t" >"$work/$t.log" 2>&1
	rc=$?
	# The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E".
	status=$(grep -E '^#[0-9]+[[:space:]]' "$work/$t.log" | tail -n 1)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status")
	corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status")
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' \
	    "$work/$t.log")
	eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' \
	    "$work/$t.log")
	summary+=("$(printf '%-15s %-6s %10s %8s %6s %6s %6s' "fuzz_$t" \
	    "$( ((rc == 0)) && echo ok || echo FAIL)" "${execs:-?}" \
	    "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
	if [[ -n ${FORKD_FUZZ_CORPUS_OUT:-} ]]; then
		mkdir -p "$FORKD_FUZZ_CORPUS_OUT/fuzz_$t"
		cp "$work/$t"/* "$FORKD_FUZZ_CORPUS_OUT/fuzz_$t/" 2>/dev/null
	fi
	if ((rc != 0)); then
		cp "$work/$t.log" "$art/fuzz_$t.log"
		echo "run.sh: fuzz_$t FAILED (exit $rc); its log ends:" >&2
		tail -n 60 "$work/$t.log" >&2
		echo "run.sh: full log $art/fuzz_$t.log; inputs:" >&2
		find "$art" -type f ! -name '*.log' -newer "$work/$t.start" >&2
		failed+=("$t")
	else
		echo "    $status"
	fi
done

echo
printf '%-15s %-6s %10s %8s %6s %6s %6s\n' target result execs exec/s \
    cov ft corpus
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
	echo "run.sh: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "run.sh: all fuzz targets ran ${secs}s without a finding"
