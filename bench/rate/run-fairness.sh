#!/bin/bash
# run-fairness.sh: what max_spawn_rate protects (issue 17). For each rate
# given (default: 0, the default, 1000), starts forkd with bench.so and
# that max_spawn_rate, runs forkd-fairness (a victim uid alone, then beside
# FLOODERS connections of another uid spawning as fast as they can) and
# prints the victim's cycles/s, p50 and p99 and the flooders' rate.
#
# Usage (as root, which the flooders leave for FAIR_UID):
#   bench/rate/run-fairness.sh [RATE...]
# Knobs: FAIR_FLOODERS=16 FAIR_MS=3000 FAIR_UID=65534
#   FORKD_FAIR_BUILD=/tmp/build-fair (a Release build of the tree)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${FORKD_FAIR_BUILD:-/tmp/build-fair}
flooders=${FAIR_FLOODERS:-16}
ms=${FAIR_MS:-3000}
uid=${FAIR_UID:-65534}
[[ $(id -u) == 0 ]] || { echo "run-fairness: run as root" >&2; exit 2; }
rates=("$@")
((${#rates[@]})) || rates=(0 default 1000)

mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DFORKD_BUILD_BENCH=ON -DBUILD_TESTING=OFF >"$build/fair-build.log" 2>&1
cmake --build "$build" -j"$(nproc)" --target forkd_daemon \
    forkd_module_bench forkctl forkd_fairness >>"$build/fair-build.log" 2>&1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-fair.XXXXXX")
chmod 0711 "$tmp"
pid=
cleanup() {
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
"$build/client/forkctl/forkctl" keygen "$tmp/authkey" >/dev/null
echo "forkd-fairness: $flooders flooder connections of uid $uid against" \
    "one victim connection of uid 0, bench:noop, ${ms} ms per phase;" \
    "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in "${rates[@]}"; do
	{
		echo "[forkd]"
		echo "socket_mode = 0666"
		if [[ $rate != default ]]; then
			echo "[limits]"
			echo "max_spawn_rate = $rate"
		fi
	} >"$tmp/forkd.conf"
	rm -f "$tmp/forkd.sock"
	"$build/daemon/forkd" -c "$tmp/forkd.conf" -s "$tmp/forkd.sock" \
	    -k "$tmp/authkey" -m "$build/modules/bench.so" -q \
	    2>"$tmp/forkd.log" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -S $tmp/forkd.sock ]] && break
		sleep 0.1
	done
	echo "== max_spawn_rate = $rate"
	"$build/bench/rate/forkd-fairness" -s "$tmp/forkd.sock" \
	    -k "$tmp/authkey" -c "$flooders" -u "$uid" -t "$ms"
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
