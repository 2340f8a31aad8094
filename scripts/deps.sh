# deps.sh: forkd's Debian/Ubuntu packages, and installing the missing ones.
# Sourced by scripts/quickstart.sh, scripts/test.sh and .ci/run:
#
#	. scripts/deps.sh
#	forkd_deps_install [PACKAGE...]	# default: FORKD_DEPS
#
# Installs with apt-get, as root or through sudo, only what dpkg-query says
# is missing; does nothing when everything is there. Elsewhere than on a
# dpkg system it only says what it needs.
# shellcheck shell=bash

# To build and run forkd, and to run its tests.
FORKD_DEPS=(build-essential cmake pkg-config libevent-dev libprotobuf-c-dev
    protobuf-c-compiler libsodium-dev libcmocka-dev libsystemd-dev
    libinih-dev python3 python3-dev python3-numpy)
# Only for the tests: systemd-analyze checks the units (the systemd_units
# test is not registered without it); valgrind runs the memcheck suites;
# clang and its runtime libraries (libFuzzer, sanitizers; Debian 12 names)
# build the fuzz targets of tests/fuzz/; python3-pytest runs the Python
# suites (python3-numpy, above, is the quick start's and the python
# module's tests' heavy preload); fuse3
# and libfuse3-dev make a mount that never answers (hung-filesystem tests);
# debhelper, devscripts, dpkg-dev, fakeroot and lintian build and check the
# Debian packages.
# shellcheck disable=SC2034 # used by the scripts that source this
FORKD_TEST_DEPS=(systemd valgrind clang libclang-rt-14-dev python3-pytest
    fuse3 libfuse3-dev debhelper devscripts dpkg-dev fakeroot lintian)

# Print the packages among "$@" that are not installed.
forkd_deps_missing() {
	local p
	for p in "$@"; do
		if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" \
		    2>/dev/null) != installed ]]; then
			printf '%s\n' "$p"
		fi
	done
}

# Run a command as root: directly, or through sudo.
forkd_as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "deps: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

# Install the packages among "$@" (default: FORKD_DEPS) that are missing.
forkd_deps_install() {
	local -a want=("$@") missing
	((${#want[@]})) || want=("${FORKD_DEPS[@]}")

	if ! command -v dpkg-query >/dev/null ||
	    ! command -v apt-get >/dev/null; then
		echo "deps: not a Debian-like system; make sure these (or your" \
		    "distribution's equivalents) are installed: ${want[*]}" >&2
		return 0
	fi
	mapfile -t missing < <(forkd_deps_missing "${want[@]}")
	((${#missing[@]})) || return 0

	echo "deps: installing ${missing[*]}"
	# Fresh systems (containers) ship without package lists.
	if [[ -z ${FORKD_APT_UPDATED:-} ]]; then
		forkd_as_root env DEBIAN_FRONTEND=noninteractive \
		    apt-get update -q || return
		FORKD_APT_UPDATED=1
	fi
	forkd_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" || return
	mapfile -t missing < <(forkd_deps_missing "${want[@]}")
	if ((${#missing[@]})); then
		echo "deps: still missing after apt-get: ${missing[*]}" >&2
		return 1
	fi
}
