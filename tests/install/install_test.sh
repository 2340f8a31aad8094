#!/bin/bash
# install_test.sh BUILD_DIR SOURCE_DIR: install forkd to a temporary prefix,
# build the README's library example against it with find_package() and with
# pkg-config, and run it against the installed forkd and modules.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
forkd_pid=
cleanup() {
	[[ -n $forkd_pid ]] && kill -TERM "$forkd_pid" 2>/dev/null && wait "$forkd_pid" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }
for f in sbin/forkd bin/forkctl include/forkd.h include/forkd_module.h \
    lib/libforkd.a lib/pkgconfig/libforkd.pc lib/cmake/forkd/forkdConfig.cmake \
    lib/forkd/modules/pi.so lib/forkd/modules/bench.so \
    lib/systemd/system/forkd.service lib/systemd/system/forkd.socket \
    share/man/man1/forkctl.1 share/man/man8/forkd.8 share/man/man5/forkd.conf.5; do
	[[ -e $prefix/$f ]] || fail "not installed: $f"
done
ls "$prefix"/lib/libforkd.so* >/dev/null || fail "libforkd.so not installed"
# Section-3 pages: every exported function has one (issue 16 item 11), they
# format without warnings, and PROTOCOL.md is in the doc directory.
[[ -f $prefix/share/doc/forkd/PROTOCOL.md ]] || fail "not installed: share/doc/forkd/PROTOCOL.md"
[[ -f $prefix/share/man/man3/libforkd.3 ]] || fail "not installed: libforkd(3)"
for sym in $(sed -n 's/^[[:space:]]*\(forkd_[a-z_]*\);$/\1/p' "$src/client/libforkd.map"); do
	[[ -f $prefix/share/man/man3/$sym.3 ]] || fail "no man page for $sym"
	grep -q "$sym" "$src/include/forkd.h" || fail "$sym is exported but not in forkd.h"
done
if command -v groff >/dev/null; then
	for page in "$src"/client/man/*.3; do
		w=$(groff -mandoc -ww -z "$page" 2>&1) || fail "groff $page"
		[[ -z $w ]] || fail "$page: $w"
	done
	# An alias page leads to its page.
	(cd "$prefix/share/man" && groff -mandoc -Tutf8 -P-cbou man3/forkd_wait_any.3 2>/dev/null) |
	    grep -q "forkd_wait_refs" || fail "forkd_wait_any(3) does not show forkd_wait(3)"
fi
# forkctl's bash and zsh completion, generated at build time (issue 16).
for f in share/bash-completion/completions/forkctl \
    share/zsh/site-functions/_forkctl; do
	[[ -s $prefix/$f ]] || fail "not installed: $f"
done
grep -q 'complete -F _forkctl forkctl' \
    "$prefix/share/bash-completion/completions/forkctl" ||
	fail "the installed bash completion is not forkctl's"
# The tests' module reads any file: never installed, never in the config.
[[ ! -e $prefix/lib/forkd/modules/testing.so ]] ||
	fail "testing.so is installed (testing:cat reads any file)"
conf=$(find "$prefix" -name forkd.conf -path '*forkd/forkd.conf' | head -1)
if [[ -n $conf ]] && grep -Eq '^(module *=.*(bench|testing)|allow_targets.*(bench|testing|\*:))' "$conf"; then
	fail "the installed $conf offers bench or testing entries"
fi

# find_package(forkd)
mkdir "$tmp/consumer"
cp "$src/tests/install/example.c" "$tmp/consumer/"
cp "$src/tests/install/CMakeLists.txt.consumer" "$tmp/consumer/CMakeLists.txt"
cmake -S "$tmp/consumer" -B "$tmp/consumer/b" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$tmp/c.log" 2>&1 && cmake --build "$tmp/consumer/b" >>"$tmp/c.log" 2>&1 ||
	{ cat "$tmp/c.log"; fail "find_package(forkd) consumer does not build"; }

# The shared library needs neither libprotobuf-c's nor libsodium's
# development files: with pkg-config seeing only forkd's own .pc file,
# find_package(forkd) and pkg-config libforkd work; only the static
# library asks for them (issue 16 item 10).
mkdir "$tmp/nopc"
PKG_CONFIG_LIBDIR=$tmp/nopc cmake -S "$tmp/consumer" -B "$tmp/consumer/shared" \
    -DCMAKE_PREFIX_PATH="$prefix" -DFORKD_CONSUMER_STATIC=OFF \
    >"$tmp/c2.log" 2>&1 && cmake --build "$tmp/consumer/shared" >>"$tmp/c2.log" 2>&1 ||
	{ cat "$tmp/c2.log"; fail "find_package(forkd) needs the static library's dependencies"; }
if PKG_CONFIG_LIBDIR=$tmp/nopc cmake -S "$tmp/consumer" -B "$tmp/consumer/st2" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/c3.log" 2>&1; then
	fail "find_package(forkd COMPONENTS static) succeeded without libsodium"
fi
grep -q "forkd_static needs libprotobuf-c" "$tmp/c3.log" ||
	{ cat "$tmp/c3.log"; fail "no reason for the missing static component"; }
pcflags=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs libforkd) ||
	fail "pkg-config libforkd needs other .pc files"
[[ $pcflags != *sodium* ]] || fail "pkg-config --libs libforkd: $pcflags"
pcstatic=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --static --libs libforkd)
[[ $pcstatic == *-lsodium* && $pcstatic == *-lprotobuf-c* ]] ||
	fail "pkg-config --static --libs libforkd: $pcstatic"

# pkg-config
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
cc -o "$tmp/example_pc" "$src/tests/install/example.c" \
    $(pkg-config --cflags --libs libforkd) -Wl,-rpath,"$prefix/lib" ||
	fail "pkg-config consumer does not build"

# Run the installed daemon with the installed modules; run all three builds.
head -c 32 /dev/urandom >"$tmp/key"
chmod 600 "$tmp/key"
"$prefix/sbin/forkd" -s "$tmp/s.sock" -k "$tmp/key" \
    -m "$prefix/lib/forkd/modules/pi.so" 2>"$tmp/forkd.log" &
forkd_pid=$!
export FORKD_SOCKET=$tmp/s.sock FORKD_KEY_FILE=$tmp/key
for ((i = 0; i < 50; i++)); do
	"$prefix/bin/forkctl" ping >/dev/null 2>&1 && break
	sleep 0.1
done
"$prefix/bin/forkctl" ping >/dev/null || { cat "$tmp/forkd.log"; fail "installed forkd does not answer"; }
for ex in "$tmp/consumer/b/example" "$tmp/consumer/b/example_static" "$tmp/example_pc"; do
	out=$(LD_LIBRARY_PATH=$prefix/lib "$ex") || fail "$ex exited $?"
	# The child prints the partial sum of 10^6 terms, about 3.1415916535.
	grep -q '^3\.14159' <<<"$out" || fail "$ex: no partial sum in: $out"
	grep -q 'exited with 0' <<<"$out" || fail "$ex: no exit report in: $out"
done
out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/consumer/shared/example") ||
	fail "shared-only example exited $?"
grep -q 'exited with 0' <<<"$out" || fail "shared-only example: $out"

# Modules against the installed forkd_module.h (issue 16 items 12-14).
"$src/tests/install/module_test.sh" "$prefix" "$src" "$tmp" "$tmp/key" ||
	fail "module test"
echo "install test: passed"
