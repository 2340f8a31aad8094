#!/bin/bash
# test.sh: build forkd and run every test, twice: a normal build in ./build,
# then an AddressSanitizer + UBSan build in ./build-asan; in between, a
# Release build (-O3, as bench/harness/run.sh builds) of everything with the
# tests and the benchmark harness in ./build-release, built and not run:
# -O3 inlines enough to find warnings (errors here) that -O2 does not;
# then the Debian packages (scripts/debian-check.sh);
# then, when clang can build libFuzzer targets, the fuzzers in ./build-fuzz
# for a bounded time (tests/fuzz/run.sh). What .ci/run runs.
#
#   scripts/test.sh [--no-asan] [--no-fuzz]
#
# Installs missing packages first (scripts/deps.sh). Parallelism: the
# CMAKE_BUILD_PARALLEL_LEVEL and CTEST_PARALLEL_LEVEL variables, 2 each by
# default. FORKD_FUZZ_SECONDS: seconds per fuzz target (default 60 when
# CI=true, else 10; 0 skips the fuzz stage). Exits non-zero if any build,
# test or fuzz target failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

asan=1
fuzz=1
for arg in "$@"; do
	case $arg in
	--no-asan) asan=0 ;;
	--no-fuzz) fuzz=0 ;;
	*) echo "usage: scripts/test.sh [--no-asan] [--no-fuzz]" >&2; exit 2 ;;
	esac
done

# shellcheck source=scripts/deps.sh
. scripts/deps.sh
forkd_deps_install "${FORKD_DEPS[@]}" "${FORKD_TEST_DEPS[@]}"

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-2}
failed=()

# Build: cmake --build "$@", and once more if that fails. On a fresh CI
# machine the first build was once SIGKILLed from outside, cmake, cc1 and ar
# at once, 3% in (the CI run of stop 18): nothing of forkd's runs at that
# point. A second make resumes where the first stopped; a real compile error
# fails twice, the same way, and costs only the second attempt's seconds.
build() {
	local rc=0
	cmake --build "$@" || rc=$?
	if ((rc != 0)); then
		echo "test.sh: 'cmake --build $*' failed (exit $rc);" \
		    "running it once more" >&2
		rc=0
		cmake --build "$@" || rc=$?
	fi
	return $rc
}

# Configure, build and test one build dir; extra args go to cmake.
suite() {
	local dir=$1
	shift
	echo "==> $dir: configure"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DBUILD_TESTING=ON "$@" &&
	echo "==> $dir: build" &&
	build "$dir" &&
	echo "==> $dir: test" &&
	ctest --test-dir "$dir" --output-on-failure
}

suite build -DFORKD_SANITIZE=OFF || failed+=(build)

echo "==> build-release: configure"
{ cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
    -DFORKD_BUILD_BENCH=ON -DFORKD_SANITIZE=OFF &&
echo "==> build-release: build (not tested)" &&
build build-release; } || failed+=(build-release)

# The Debian packages (debian/): built from a copy of the tree, their file
# lists, lintian and the packaged units checked; exits 77 without the tools.
echo "==> debian: build and check the packages"
scripts/debian-check.sh || { rc=$?; ((rc == 77)) || failed+=(debian); }

if ((asan)); then
	export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	suite build-asan -DFORKD_SANITIZE=ON || failed+=(build-asan)
fi

# Can clang build and link a libFuzzer target here?
have_libfuzzer() {
	local tmp rc
	command -v clang >/dev/null || return 1
	tmp=$(mktemp -d) || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ return 0; }' >"$tmp/t.c"
	clang -fsanitize=fuzzer,address,undefined -o "$tmp/t" "$tmp/t.c" \
	    >/dev/null 2>&1
	rc=$?
	rm -rf "$tmp"
	return $rc
}

# Optional last stage: the libFuzzer targets of tests/fuzz/, built with clang
# into ./build-fuzz and run FORKD_FUZZ_SECONDS each from their seed corpora.
fuzz_secs=${FORKD_FUZZ_SECONDS:-$([[ ${CI:-} == true ]] && echo 60 || echo 10)}
if ((fuzz)) && ((fuzz_secs > 0)); then
	if have_libfuzzer; then
		echo "==> build-fuzz: configure"
		{ cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang \
		    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
		    -DFORKD_FUZZ=ON &&
		echo "==> build-fuzz: build" &&
		build build-fuzz --target fuzz &&
		echo "==> build-fuzz: fuzz, ${fuzz_secs}s per target" &&
		tests/fuzz/run.sh "$fuzz_secs" build-fuzz; } ||
		    failed+=(build-fuzz)
	else
		echo "==> build-fuzz: skipped: clang cannot link libFuzzer" \
		    "targets (Debian: apt-get install clang libclang-rt-14-dev)"
	fi
fi

if ((${#failed[@]})); then
	echo "test.sh: FAILED in: ${failed[*]}" >&2
	exit 1
fi
echo "test.sh: all builds and tests passed"
