#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then check what a user gets: the
# programs run, the man pages render, the units and example configs are
# there, and a program using libprivfl builds and runs with pkg-config.
# usage: check-install.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/privfl-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
fail() {
	echo "FAIL: $*"
	exit 1
}
for p in privfl privfl-aggregator privfl-client privfl-sim; do
	[ -x "$prefix/bin/$p" ] || fail "bin/$p missing"
	"$prefix/bin/$p" --help >/dev/null || fail "$p --help failed"
	[ -f "$prefix/share/man/man1/$p.1" ] || fail "man page $p.1 missing"
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man --warnings -l "$prefix/share/man/man1/$p.1" 2>&1 >/dev/null)
		[ -z "$out" ] || fail "man $p: $out"
	fi
done
for f in lib/libprivfl.a lib/pkgconfig/privfl.pc include/privfl/err.h \
	include/privfl/aggregator.h include/privfl/audit.h \
	lib/systemd/system/privfl-client.service \
	lib/systemd/system/privfl-aggregator.service \
	share/privfl/examples/client.conf share/privfl/examples/aggregator.conf; do
	[ -f "$prefix/$f" ] || fail "$f missing"
done
grep -q "^ExecStart=.*/bin/privfl-client --config /etc/privfl/client.conf" \
	"$prefix/lib/systemd/system/privfl-client.service" ||
	fail "privfl-client.service has no ExecStart"
# A program against the installed library, found through pkg-config only.
cat >"$prefix/app.c" <<'C'
#include <stdio.h>
#include "privfl/aggregator.h"
#include "privfl/audit.h"
int
main(void)
{
	struct pfl_agg_config cfg;
	struct pfl_audit_summary sum;
	char err[256];
	if (pfl_agg_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		return 1;
	printf("rounds %lld, %s\n", (long long)cfg.rounds,
	        pfl_strerror(PFL_ERR_FORMAT));
	pfl_agg_config_fini(&cfg);
	if (pfl_audit_verify_mem((const uint8_t *)"", 0, &sum, NULL) != PFL_OK)
		return 1;
	return sum.lines == 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags privfl) || fail "pkg-config --cflags privfl"
libs=$(pkg-config --libs privfl) || fail "pkg-config --libs privfl"
case $cflags in *"$prefix"*) ;; *) fail "privfl.pc does not point into $prefix: $cflags" ;; esac
san=
# A sanitizer build installs an instrumented library: link the runtime.
grep -q '^PFL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" &&
	san="-fsanitize=address,undefined"
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Werror $san $cflags "$prefix/app.c" -o "$prefix/app" $libs ||
	fail "cannot build a program with pkg-config privfl ($cflags $libs)"
"$prefix/app" | grep -q "^rounds [0-9]" || fail "the program did not run"
echo "PASS: install into a fresh prefix: programs, man pages, units, configs, libprivfl.a and privfl.pc"
