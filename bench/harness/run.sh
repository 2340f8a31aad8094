#!/bin/sh
# run.sh: build what the benchmark needs and run it.
#
#   bench/harness/run.sh [--quick] [--out FILE] [--build-dir DIR]
#                        [--no-python] [-- FORKD-BENCH-OPTIONS...]
#
# Builds forkd, the bench module and forkd-bench (Release, in
# ./build-bench unless --build-dir), then runs forkd (pool on, and --pool 0)
# against its anchors at 0 MiB, 256 MiB and 1 GiB of preloaded state (in
# rounds, in the interleaved mode, and in throughput trials with blocking
# and pipelined clients), prints the table with the goals of issue 17 and
# writes JSON to FILE (default bench/results/<UTC time>.json).
# A full run takes 7 to 9 minutes, --quick 1 to 2. Needs ~8 GiB of free
# memory; python3 is optional (without it the Python rows are left out).
# Options after -- go to forkd-bench (--help lists them), e.g.
# -- --bench-opts state=plain. No network; every process it starts is
# stopped on exit or interrupt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build-bench"
out=""
quick=""
python=$(command -v python3 || true)

usage() {
	sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=--quick ;;
	--out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	--build-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; build=$2; shift ;;
	--build-dir=*) build=${1#--build-dir=} ;;
	--no-python) python="" ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

if [ -z "$out" ]; then
	mkdir -p "$repo/bench/results"
	out="$repo/bench/results/$(date -u +%Y%m%dT%H%M%SZ).json"
else
	mkdir -p "$(dirname "$out")"
fi

echo "building in $build" >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DFORKD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" \
	--target forkd-bench >/dev/null

if [ -n "$python" ] && ! "$python" -c \
	'import multiprocessing as m; m.get_context("forkserver")' 2>/dev/null
then
	echo "run.sh: $python has no multiprocessing forkserver;" \
		"leaving the Python rows out" >&2
	python=""
fi

label=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-bench.XXXXXX")
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

set -- --forkd "$build/daemon/forkd" \
	--bench-so "$build/modules/bench.so" \
	--tmpdir "$tmp" --out "$out" --label "forkd $label" $quick "$@"
if [ -n "$python" ]; then
	set -- --python "$python" --pyscript "$here/pyfs_worker.py" "$@"
fi
"$build/bench/harness/forkd-bench" "$@" &
pid=$!
status=0
wait "$pid" || status=$?
pid=""
exit "$status"
