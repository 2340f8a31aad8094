#!/bin/bash
# debian-check.sh: build forkd's Debian packages from this tree and check
# them (issue 16 item 19).
#
#   scripts/debian-check.sh [OUTDIR]
#
# 1. copies the tree (tracked and untracked files, not build dirs) to a
#    temporary directory and runs `dpkg-buildpackage -b -us -uc` there, so
#    nothing is written beside the checkout;
# 2. compares each package's file list with the list below (exactly: a
#    file added to or lost from a package fails);
# 3. runs lintian: any error fails, warnings are printed;
# 4. runs `systemd-analyze verify` on the packaged units inside the
#    unpacked packages (--root), so ExecStart= must be the packaged forkd;
# 5. starts the packaged forkd with the packaged config's modules and the
#    packaged python module on a temporary socket, spawns pi:hello through
#    the packaged forkctl and libforkd, and runs a function in a child
#    through the packaged Python package (Debian's /usr/bin/python3).
# OUTDIR (optional) keeps the .deb files. Exit 0 ok, 1 failure, 77 skipped
# (no dpkg-buildpackage). Takes about 2 minutes on 2 CPUs, most of it the
# compile.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
outdir=${1:-}

for t in dpkg-buildpackage dh lintian dpkg-deb; do
	if ! command -v "$t" >/dev/null; then
		echo "debian-check: $t not found (debhelper, devscripts," \
		    "dpkg-dev, lintian): skipped" >&2
		exit 77
	fi
done

tmp=$(mktemp -d)
forkd_pid=
cleanup() {
	[[ -n $forkd_pid ]] && kill -TERM "$forkd_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "debian-check: FAIL: $*" >&2; exit 1; }

# ---- 1. build ---------------------------------------------------------------
mkdir "$tmp/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z -co --exclude-standard |
	    grep -zv -E '^(build[^/]*|debian/(\.debhelper|tmp|forkd|forkd-module-python|libforkd1|libforkd-dev|python3-forkd)/|obj-)' |
	    xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$tmp/src"
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -xf - -C "$tmp/src"
fi
start=$SECONDS
if ! (cd "$tmp/src" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log" >&2
	fail "dpkg-buildpackage -b -us -uc"
fi
echo "debian-check: built in $((SECONDS - start)) s:" \
    "$(cd "$tmp" && echo ./*.deb)"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(cd "$tmp/src" && dpkg-parsechangelog -S Version)
debarch=$(dpkg-architecture -qDEB_HOST_ARCH)
[[ -n $outdir ]] && { mkdir -p "$outdir"; cp "$tmp"/*.deb "$outdir/"; }

# ---- 2. file lists ------------------------------------------------------------
# Files of each package ("@MA@" is the multiarch triplet), without the
# directories and /usr/share/doc/PKG/{changelog.gz,copyright}, which every
# package has.
expect_forkd='/etc/forkd/forkd.conf
/lib/systemd/system/forkd.service
/lib/systemd/system/forkd.socket
/usr/bin/forkctl
/usr/lib/@MA@/forkd/modules/bench.so
/usr/lib/@MA@/forkd/modules/pi.so
/usr/lib/sysusers.d/forkd.conf
/usr/lib/tmpfiles.d/forkd.conf
/usr/sbin/forkd
/usr/share/bash-completion/completions/forkctl
/usr/share/doc/forkd/PROTOCOL.md.gz
/usr/share/forkd/systemd/forkd-cgroups.conf
/usr/share/forkd/systemd/forkd-namespaces.conf
/usr/share/man/man1/forkctl.1.gz
/usr/share/man/man5/forkd.conf.5.gz
/usr/share/man/man8/forkd.8.gz
/usr/share/zsh/site-functions/_forkctl'
# The python module alone (it links libpython3.11); modules/testing is
# test-only and in no package.
expect_module_python='/usr/lib/@MA@/forkd/modules/python.so'
# The Python package, where Debian puts Python 3 modules; the extension's
# name carries the interpreter's SOABI (cpython-311-x86_64-linux-gnu).
soabi=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
expect_python3="/usr/lib/python3/dist-packages/forkd/__init__.py
/usr/lib/python3/dist-packages/forkd/_connection.py
/usr/lib/python3/dist-packages/forkd/_errors.py
/usr/lib/python3/dist-packages/forkd/_executor.py
/usr/lib/python3/dist-packages/forkd/_forkd$soabi
/usr/lib/python3/dist-packages/forkd/_process.py
/usr/lib/python3/dist-packages/forkd/py.typed"
expect_libforkd1='/usr/lib/@MA@/libforkd.so.0.2.0
/usr/lib/@MA@/libforkd.so.1'
man3=$(cd "$src/client/man" && ls ./*.3 | sed 's|^\./||')
aliases=$(sed -n 's/^[[:space:]]*\(forkd_[a-z_]*\);$/\1/p' "$src/client/libforkd.map")
expect_dev="/usr/include/forkd.h
/usr/include/forkd_module.h
/usr/lib/@MA@/cmake/forkd/forkdConfig.cmake
/usr/lib/@MA@/cmake/forkd/forkdConfigVersion.cmake
/usr/lib/@MA@/cmake/forkd/forkdStaticTargets-none.cmake
/usr/lib/@MA@/cmake/forkd/forkdStaticTargets.cmake
/usr/lib/@MA@/cmake/forkd/forkdTargets-none.cmake
/usr/lib/@MA@/cmake/forkd/forkdTargets.cmake
/usr/lib/@MA@/libforkd.a
/usr/lib/@MA@/libforkd.so
/usr/lib/@MA@/pkgconfig/libforkd.pc
$(for p in $man3; do echo "/usr/share/man/man3/$p.gz"; done)
$(for s in $aliases; do echo "/usr/share/man/man3/$s.3.gz"; done)"

# The non-directory files of a .deb, normalised.
deb_files() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' |
	    grep -v -E "^/usr/share/doc/[^/]+/(changelog(\.Debian)?\.gz|copyright)$" |
	    grep -v -E '^/usr/share/lintian/overrides/' |
	    sed "s|/$arch/|/@MA@/|" | sort -u
}

check_list() {
	local pkg=$1 want=$2 deb got
	deb=$tmp/${pkg}_${version}_$debarch.deb
	[[ -f $deb ]] || fail "no package $pkg (want $deb)"
	got=$(deb_files "$deb")
	want=$(sort -u <<<"$want")
	if [[ $got != "$want" ]]; then
		echo "debian-check: $pkg: files differ (- expected, + packaged):" >&2
		diff <(echo "$want") <(echo "$got") | grep '^[<>]' |
		    sed 's/^</-/; s/^>/+/' >&2 || true
		fail "file list of $pkg"
	fi
	echo "debian-check: $pkg: $(wc -l <<<"$got") files as expected"
}
check_list forkd "$expect_forkd"
check_list libforkd1 "$expect_libforkd1"
check_list libforkd-dev "$expect_dev"
check_list forkd-module-python "$expect_module_python"
check_list python3-forkd "$expect_python3"
# Every package debian/control declares was built and checked above.
for p in $(sed -n 's/^Package: *//p' "$src/debian/control"); do
	case $p in
	forkd | libforkd1 | libforkd-dev | forkd-module-python | python3-forkd) ;;
	*) fail "debian/control has $p, which this script does not check" ;;
	esac
done

# ---- 3. lintian ---------------------------------------------------------------
changes=$(echo "$tmp"/*.changes)
lintian --fail-on error --display-info --tag-display-limit 0 "$changes" >"$tmp/lintian.log" 2>&1 ||
	{ cat "$tmp/lintian.log" >&2; fail "lintian reports errors"; }
nwarn=$(grep -c '^W: ' "$tmp/lintian.log" || true)
echo "debian-check: lintian: no errors, $nwarn warnings"
grep -E '^[WIP]: ' "$tmp/lintian.log" | sed 's/^/  /' || true

# ---- 4. units -----------------------------------------------------------------
root=$tmp/root
for d in "$tmp"/*.deb; do
	dpkg-deb -x "$d" "$root"
done
# The unit files as packaged, with the packaged programs' paths made to
# point into the unpacked tree (verify wants ExecStart= to exist); the rest
# of the system (targets, /bin/sh) is this machine's.
if command -v systemd-analyze >/dev/null; then
	grep -q '^ExecStart=/usr/sbin/forkd -c /etc/forkd/forkd.conf$' \
	    "$root/lib/systemd/system/forkd.service" || fail "ExecStart= of forkd.service"
	for p in /usr/sbin/forkd /usr/bin/forkctl; do
		[[ -x $root$p ]] || fail "the units run $p; the packages lack it"
		grep -q "$p" "$root/lib/systemd/system/forkd.service" ||
			fail "forkd.service does not run $p"
	done
	mkdir "$tmp/units"
	for u in forkd.socket forkd.service; do
		sed -e "s|/usr/sbin/forkd|$root/usr/sbin/forkd|g" \
		    -e "s|/usr/bin/forkctl|$root/usr/bin/forkctl|g" \
		    "$root/lib/systemd/system/$u" >"$tmp/units/$u"
	done
	out=$(systemd-analyze verify --man=no "$tmp/units/forkd.socket" \
	    "$tmp/units/forkd.service" 2>&1) ||
		{ echo "$out" >&2; fail "systemd-analyze verify of the packaged units"; }
	[[ -z $out ]] || { echo "$out" >&2; fail "systemd-analyze verify: diagnostics"; }
	echo "debian-check: systemd-analyze verify: ok"
else
	echo "debian-check: no systemd-analyze: units not verified" >&2
fi

# ---- 5. the packaged programs run ----------------------------------------------
export LD_LIBRARY_PATH=$root/usr/lib/$arch
ldd "$root/usr/bin/forkctl" | grep -q "libforkd" &&
	fail "forkctl links libforkd.so dynamically (expected static)"
"$root/usr/bin/forkctl" keygen "$tmp/key" >/dev/null
# The packaged config's modules, and forkd-module-python's python.so.
sed -e "s|/usr/lib/$arch/forkd/modules|$root/usr/lib/$arch/forkd/modules|" \
    -e "/^module = .*\/pi\.so\$/a module = $root/usr/lib/$arch/forkd/modules/python.so" \
    -e 's|^allow_targets = pi:\*$|allow_targets = pi:* python:*|' \
    "$root/etc/forkd/forkd.conf" >"$tmp/forkd.conf"
grep -q '^module = .*/python\.so$' "$tmp/forkd.conf" ||
	fail "no 'module = .../pi.so' line in the packaged forkd.conf"
grep -q '^allow_targets = pi:\* python:\*$' "$tmp/forkd.conf" ||
	fail "no 'allow_targets = pi:*' line in the packaged forkd.conf"
"$root/usr/sbin/forkd" -c "$tmp/forkd.conf" -s "$tmp/s.sock" -k "$tmp/key" \
    2>"$tmp/forkd.log" &
forkd_pid=$!
export FORKD_SOCKET=$tmp/s.sock FORKD_KEY_FILE=$tmp/key
for ((i = 0; i < 100; i++)); do
	"$root/usr/bin/forkctl" ping >/dev/null 2>&1 && break
	sleep 0.05
done
out=$("$root/usr/bin/forkctl" spawn --wait pi:hello </dev/null 2>&1) ||
	{ cat "$tmp/forkd.log" >&2; fail "packaged forkctl spawn --wait pi:hello: $out"; }
# A program against the packaged libforkd-dev, with pkg-config only.
cat >"$tmp/ping.c" <<'CEOF'
#include <stdio.h>
#include <forkd.h>

int
main(void)
{
	struct forkd		*f;
	struct forkd_error	 e;

	if (forkd_connect_ex(&f, NULL, NULL, &e) < 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	if (forkd_ping(f) != 0)
		return 1;
	forkd_close(f);
	puts("ok");
	return 0;
}
CEOF
pcdir=$root/usr/lib/$arch/pkgconfig
sed -i "s|^prefix=.*|prefix=$root/usr|" "$pcdir/libforkd.pc"
# shellcheck disable=SC2046
cc -o "$tmp/ping" "$tmp/ping.c" $(PKG_CONFIG_LIBDIR=$pcdir pkg-config --cflags --libs libforkd) ||
	fail "a program against libforkd-dev does not build"
[[ $("$tmp/ping") == ok ]] || fail "a program against the packaged libforkd1"
# The packaged Python package, by Debian's python3, runs a function in a
# child of the packaged python module.
cat >"$tmp/py_check.py" <<'PYEOF'
import operator
import forkd

if __name__ == "__main__":
    forkd.connect().ping()
    with forkd.Executor(1) as ex:
        print(ex.submit(operator.add, 2, 3).result())
PYEOF
out=$(PYTHONPATH=$root/usr/lib/python3/dist-packages /usr/bin/python3 \
    "$tmp/py_check.py" 2>&1) ||
	{ cat "$tmp/forkd.log" >&2; fail "python3-forkd with forkd-module-python: $out"; }
[[ $out == 5 ]] || fail "python3-forkd with forkd-module-python: '$out', not 5"
echo "debian-check: packaged forkd, forkctl, libforkd, python3-forkd and the python module work"
echo "debian-check: ok"
