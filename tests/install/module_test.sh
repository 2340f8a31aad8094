#!/bin/bash
# module_test.sh PREFIX SRC TMP KEY: writing a module against an installed
# forkd_module.h (issue 16 items 12-14), called by install_test.sh.
#  - the README's module example, extracted as written, compiles with
#    -std=c11 -Wall -Wextra -Werror -fvisibility=hidden and forkd runs it;
#  - forkd_module.h's allocators work under -std=c11, and after a system
#    header under strict C11 they are an #error, not silently missing;
#  - a hidden forkd_module_info is refused with a visibility hint;
#  - an init returning -1 is "init failed (returned -1)", not EPERM.
set -euo pipefail
prefix=$1 src=$2 tmp=$3 key=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
mpid=
cleanup() { [[ -n $mpid ]] && kill -TERM "$mpid" 2>/dev/null || true; }
trap cleanup EXIT

mflags=(-std=c11 -Wall -Wextra -Werror -fvisibility=hidden -fPIC -shared
    -I"$prefix/include")

# The README's example: the first C block of "## Writing a module".
awk '/^## Writing a module/ { on = 1 }
    on && /^```c$/ { blk = 1; next }
    blk && /^```$/ { exit }
    blk { print }' "$src/README.md" >"$tmp/table.c"
grep -q forkd_module_info "$tmp/table.c" || fail "no module example in the README"
cc "${mflags[@]}" -o "$tmp/table.so" "$tmp/table.c" 2>"$tmp/cc.log" ||
	{ cat "$tmp/cc.log"; fail "the README's module example does not compile cleanly"; }

# forkd_module.h and both allocators under -std=c11.
cat >"$tmp/alloc.c" <<'CEOF'
#include <forkd_module.h>
#include <stdio.h>

static const void *ro;

static int
init(const char *opts)
{
	int	 fd;
	char	*w;

	(void)opts;
	w = forkd_state_alloc_shared(4096, &fd);
	if (w == NULL)
		return -errno;
	w[0] = 'x';
	ro = forkd_state_seal(w, 4096, fd);
	return ro == NULL ? -errno : 0;
}

static int
show(int argc, char **argv)
{
	char	*p = forkd_state_alloc_private(100);

	(void)argc;
	(void)argv;
	printf("%c%s\n", ((const char *)ro)[0], p != NULL ? "y" : "n");
	forkd_state_free(p, 100);
	return 0;
}

static const struct forkd_module_entry entries[] = {
	{ "show", show, NULL },
	{ NULL, NULL, NULL }
};

FORKD_MODULE_EXPORT const struct forkd_module forkd_module_info = {
	.abi_version = FORKD_MODULE_ABI_VERSION,
	.name = "alloc",
	.init = init,
	.entries = entries,
};
CEOF
cc "${mflags[@]}" -o "$tmp/alloc.so" "$tmp/alloc.c" 2>"$tmp/cc.log" ||
	{ cat "$tmp/cc.log"; fail "forkd_module.h's allocators under -std=c11"; }

# After <stdio.h>, strict C11 hides what the allocators need: an #error
# that says so; FORKD_MODULE_NO_STATE_API opts out.
printf '#include <stdio.h>\n#include <forkd_module.h>\nint x;\n' >"$tmp/late.c"
if cc "${mflags[@]}" -o "$tmp/late.so" "$tmp/late.c" 2>"$tmp/cc.log"; then
	fail "forkd_module.h after <stdio.h> under -std=c11 compiled without its allocators"
fi
grep -q "forkd_module.h: the state allocators need" "$tmp/cc.log" ||
	{ cat "$tmp/cc.log"; fail "no #error explaining -std=c11"; }
printf '#include <stdio.h>\n#define FORKD_MODULE_NO_STATE_API\n#include <forkd_module.h>\nint x;\n' \
    >"$tmp/late.c"
cc "${mflags[@]}" -o "$tmp/late.so" "$tmp/late.c" ||
	fail "FORKD_MODULE_NO_STATE_API does not opt out"
# gnu11 (the compiler's default) needs nothing.
printf '#include <stdio.h>\n#include <forkd_module.h>\nint x;\n' >"$tmp/late.c"
cc "${mflags[@]/-std=c11/-std=gnu11}" -o "$tmp/late.so" "$tmp/late.c" ||
	fail "forkd_module.h after <stdio.h> under -std=gnu11"

# forkd loads both and runs their entries.
"$prefix/sbin/forkd" -s "$tmp/m.sock" -k "$key" -m "$tmp/table.so" \
    -m "$tmp/alloc.so" 2>"$tmp/forkd-m.log" &
mpid=$!
fc() { "$prefix/bin/forkctl" -s "$tmp/m.sock" -k "$key" "$@"; }
for ((i = 0; i < 50; i++)); do
	fc ping >/dev/null 2>&1 && break
	sleep 0.1
done
fc ping >/dev/null || { cat "$tmp/forkd-m.log"; fail "forkd with the example modules"; }
out=$(fc spawn --wait table:lookup </dev/null 2>&1) || fail "table:lookup: $out"
grep -qx 0 <<<"$out" || fail "table:lookup printed: $out"
out=$(fc spawn --wait alloc:show </dev/null 2>&1) || fail "alloc:show: $out"
grep -qx xy <<<"$out" || fail "alloc:show printed: $out"
kill -TERM "$mpid"
rc=0
wait "$mpid" || rc=$?
mpid=
((rc == 0)) || fail "forkd with the example modules exited $rc"

# Hidden visibility without FORKD_MODULE_EXPORT: refused, with the hint.
sed 's/^FORKD_MODULE_EXPORT //' "$tmp/table.c" >"$tmp/hidden.c"
grep -q '^const struct forkd_module forkd_module_info' "$tmp/hidden.c" ||
	fail "could not remove FORKD_MODULE_EXPORT"
cc "${mflags[@]}" -o "$tmp/hidden.so" "$tmp/hidden.c"
rc=0
"$prefix/sbin/forkd" -s "$tmp/h.sock" -k "$key" -m "$tmp/hidden.so" \
    >"$tmp/h.log" 2>&1 || rc=$?
((rc == 1)) || fail "forkd with a hidden forkd_module_info exited $rc"
grep -q "not a forkd module (built with -fvisibility=hidden? declare it FORKD_MODULE_EXPORT" \
    "$tmp/h.log" || { cat "$tmp/h.log"; fail "no visibility hint"; }

# init returning -1: "returned -1", never EPERM; -ENOENT keeps its text.
for rv in -1 -ENOENT; do
	# (forkd_module.h brings <errno.h>.)
	sed "s|return 0;\(.*else stop\)|return $rv;\1|" "$tmp/table.c" \
	    >"$tmp/initfail.c"
	grep -q "return $rv;" "$tmp/initfail.c" || fail "could not make init return $rv"
	cc "${mflags[@]}" -o "$tmp/initfail.so" "$tmp/initfail.c" 2>"$tmp/cc.log" ||
		{ cat "$tmp/cc.log"; fail "module whose init returns $rv"; }
	rc=0
	"$prefix/sbin/forkd" -s "$tmp/i.sock" -k "$key" -m "$tmp/initfail.so" \
	    >"$tmp/i.log" 2>&1 || rc=$?
	((rc == 1)) || fail "forkd with init $rv exited $rc"
	if [[ $rv == -1 ]]; then
		grep -q "init failed (returned -1)" "$tmp/i.log" ||
			{ cat "$tmp/i.log"; fail "init -1 message"; }
		! grep -qi "not permitted" "$tmp/i.log" ||
			{ cat "$tmp/i.log"; fail "init -1 reported as EPERM"; }
	else
		grep -q "init failed: No such file or directory (returned -2)" "$tmp/i.log" ||
			{ cat "$tmp/i.log"; fail "init -ENOENT message"; }
	fi
done
echo "module test: passed"
