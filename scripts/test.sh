#!/bin/bash
# test.sh: build forkd and run every test, twice: a normal build in ./build,
# then an AddressSanitizer + UBSan build in ./build-asan. What .ci/run runs.
#
#   scripts/test.sh [--no-asan]
#
# Installs missing packages first (scripts/deps.sh). Parallelism: the
# CMAKE_BUILD_PARALLEL_LEVEL and CTEST_PARALLEL_LEVEL variables, 2 each by
# default. Exits non-zero if any build or test failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

asan=1
case ${1:-} in
"") ;;
--no-asan) asan=0 ;;
*) echo "usage: scripts/test.sh [--no-asan]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/deps.sh
. scripts/deps.sh
forkd_deps_install "${FORKD_DEPS[@]}" "${FORKD_TEST_DEPS[@]}"

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-2}
failed=()

# Configure, build and test one build dir; extra args go to cmake.
suite() {
	local dir=$1
	shift
	echo "==> $dir: configure"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DBUILD_TESTING=ON "$@" &&
	echo "==> $dir: build" &&
	cmake --build "$dir" &&
	echo "==> $dir: test" &&
	ctest --test-dir "$dir" --output-on-failure
}

suite build -DFORKD_SANITIZE=OFF || failed+=(build)

if ((asan)); then
	export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	suite build-asan -DFORKD_SANITIZE=ON || failed+=(build-asan)
fi

if ((${#failed[@]})); then
	echo "test.sh: FAILED in: ${failed[*]}" >&2
	exit 1
fi
echo "test.sh: all builds and tests passed"
