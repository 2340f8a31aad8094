#!/bin/bash
# quickstart.sh: build forkd and watch it work, in one command.
#
# Installs missing packages (apt-get, as root or through sudo), builds into
# ./build, starts forkd on a private socket in a temp dir with the pi and
# bench modules preloaded, computes pi with 4 children forked from it, shows
# the daemon's status, stops it and cleans up. Safe to run again. When the
# python module and the forkd Python package were built, forkd preloads
# numpy too and examples/python/pi.py computes pi through forkd.Process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NCHILD=4		# children computing pi
TERMS=400000000		# Leibniz terms in all

# shellcheck source=scripts/deps.sh
. scripts/deps.sh
forkd_deps_install "${FORKD_DEPS[@]}"

echo "==> building into ./build (log: build/quickstart.log)"
mkdir -p build
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_TESTING=OFF && cmake --build build -j2; } \
    >build/quickstart.log 2>&1; then
	tail -n 40 build/quickstart.log >&2
	echo "quickstart: the build failed; the whole log is in" \
	    "build/quickstart.log" >&2
	exit 1
fi

forkd=$PWD/build/daemon/forkd
forkctl_bin=$PWD/build/client/forkctl/forkctl
modules=$PWD/build/modules

tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkd-quickstart.XXXXXX")
chmod 0700 "$tmp"
forkd_pid=

# Stop forkd if it still runs, show its log if something failed, clean up.
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $forkd_pid ]] && kill -0 "$forkd_pid" 2>/dev/null; then
		kill -TERM "$forkd_pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$forkd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$forkd_pid" 2>/dev/null || true
		wait "$forkd_pid" 2>/dev/null || true
	fi
	if ((rc != 0)) && [[ -s $tmp/forkd.log ]]; then
		echo "--- forkd's log ---" >&2
		cat "$tmp/forkd.log" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# forkctl, shown as it is typed.
forkctl() {
	printf '$ forkctl %s\n' "$*"
	"$forkctl_bin" "$@"
}

export FORKD_SOCKET=$tmp/forkd.sock FORKD_KEY_FILE=$tmp/authkey

# Python: the python module (numpy preloaded) and the forkd package, with
# the interpreter they were built for.
pymod=()
python=
pypkg=$PWD/build/client/python
if [[ -f $modules/python.so && -d $pypkg/forkd ]]; then
	python=$(sed -n 's/^Python3_EXECUTABLE:[A-Z]*=//p' build/CMakeCache.txt)
	pymod=(-m "$modules/python.so:path=$pypkg:$PWD/examples/python,import=numpy")
fi

echo
echo "==> a key and a daemon, in $tmp"
forkctl keygen "$FORKD_KEY_FILE"
"$forkd" -s "$FORKD_SOCKET" -k "$FORKD_KEY_FILE" \
    -m "$modules/pi.so" -m "$modules/bench.so:size_mb=16" "${pymod[@]}" \
    2>"$tmp/forkd.log" &
forkd_pid=$!

# Ready when a ping gets through: at most 10 s.
for ((i = 0; ; i++)); do
	if "$forkctl_bin" ping >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$forkd_pid" 2>/dev/null; then
		wait "$forkd_pid" && rc=0 || rc=$?
		forkd_pid=
		echo "quickstart: forkd exited during start-up (status $rc)" >&2
		exit 1
	fi
	if ((i >= 100)); then
		echo "quickstart: forkd did not answer a ping within 10 s" >&2
		exit 1
	fi
	sleep 0.1
done
forkctl ping

echo
echo "==> pi from $NCHILD children, $TERMS Leibniz terms"
per=$((TERMS / NCHILD))
start_ns=$(date +%s%N)
pids=()
for ((i = 0; i < NCHILD; i++)); do
	# --wait: the child writes to forkctl's stdout, here a file.
	args=(spawn --wait --name "pi-$i" pi:leibniz -- $((i * per)) "$per")
	printf '$ forkctl %s > part.%d &\n' "${args[*]}" "$i"
	"$forkctl_bin" "${args[@]}" >"$tmp/part.$i" &
	pids+=($!)
done
for ((i = 0; i < NCHILD; i++)); do
	if ! wait "${pids[i]}"; then
		echo "quickstart: child pi-$i failed" >&2
		exit 1
	fi
done
end_ns=$(date +%s%N)
for ((i = 0; i < NCHILD; i++)); do
	printf '  pi-%d: terms %d..%d: %s\n' "$i" $((i * per)) \
	    $(((i + 1) * per - 1)) "$(cat "$tmp/part.$i")"
done
cat "$tmp"/part.* | awk -v ms=$(((end_ns - start_ns) / 1000000)) '
	{ sum += $1 }
	END {
		pi = atan2(0, -1)
		printf "  sum:   %.15f\n  pi:    %.15f\n  error: %.3e\n", \
		    sum, pi, sum - pi
		printf "  (%d ms for the %d children)\n", ms, NR
	}'

if [[ -n $python ]]; then
	echo
	echo "==> the same from Python: forkd.Process, numpy preloaded in forkd"
	echo "\$ PYTHONPATH=build/client/python $python examples/python/pi.py"
	if ! PYTHONPATH=$pypkg "$python" examples/python/pi.py; then
		echo "quickstart: examples/python/pi.py failed" >&2
		exit 1
	fi
else
	echo
	echo "(the python module or the forkd Python package was not built:" \
	    "no Python demo; see build/quickstart.log)"
fi

echo
echo "==> children are listed and can be signalled"
forkctl spawn --name sleeper bench:sleep -- 30
forkctl ps
forkctl kill sleeper
forkctl wait --timeout 5 sleeper

echo
echo "==> the daemon"
forkctl status

echo
echo "==> stopping forkd (SIGTERM)"
kill -TERM "$forkd_pid"
for ((i = 0; i < 100; i++)); do
	kill -0 "$forkd_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$forkd_pid" 2>/dev/null; then
	echo "quickstart: forkd still running 10 s after SIGTERM" >&2
	exit 1
fi
wait "$forkd_pid" && rc=0 || rc=$?
forkd_pid=
if ((rc != 0)); then
	echo "quickstart: forkd exited with status $rc after SIGTERM" >&2
	exit 1
fi
echo "forkd exited cleanly. Next: README.md, scripts/test.sh, forkctl --help."
