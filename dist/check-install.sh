#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then check what a user gets: the
# programs run, the man pages render, the units and example configs are
# there, and a program using libprivfl builds and runs with pkg-config.
# usage: check-install.sh BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1
prefix=$(mktemp -d /tmp/privfl-install.XXXXXX)
staged=$(mktemp -d /tmp/privfl-destdir.XXXXXX)
trap 'rm -rf "$prefix" "$staged"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
fail() {
	echo "FAIL: $*"
	exit 1
}
command -v man >/dev/null || fail "man missing (Debian package man-db, in make deps-test)"
command -v systemd-analyze >/dev/null ||
	fail "systemd-analyze missing (Debian package systemd, in make deps-test)"
for p in privfl privfl-aggregator privfl-client privfl-sim; do
	[ -x "$prefix/bin/$p" ] || fail "bin/$p missing"
	"$prefix/bin/$p" --help >/dev/null || fail "$p --help failed"
	[ -f "$prefix/share/man/man1/$p.1" ] || fail "man page $p.1 missing"
	out=$(MANWIDTH=80 man --warnings -l "$prefix/share/man/man1/$p.1" 2>&1 >/dev/null)
	[ -z "$out" ] || fail "man $p: $out"
done
for f in lib/libprivfl.a lib/pkgconfig/privfl.pc include/privfl/err.h \
	include/privfl/aggregator.h include/privfl/audit.h \
	lib/systemd/system/privfl-client.service \
	lib/systemd/system/privfl-aggregator.service \
	share/privfl/examples/client.conf share/privfl/examples/aggregator.conf; do
	[ -f "$prefix/$f" ] || fail "$f missing"
done
# The units run the programs of this prefix, not of the configured one
# (issue #14 item 7), and systemd accepts them: systemd-analyze verify
# checks the syntax, that ExecStart is executable and, with MANPATH, that
# the man page in Documentation= exists. It needs no running systemd.
for u in privfl-client privfl-aggregator; do
	unit="$prefix/lib/systemd/system/$u.service"
	exec_line=$(grep "^ExecStart=" "$unit") || fail "$u.service has no ExecStart"
	[ "$exec_line" = "ExecStart=$prefix/bin/$u --config /etc/privfl/${u#privfl-}.conf" ] ||
		fail "$u.service: $exec_line (expected $prefix/bin/$u)"
	grep -q "^Documentation=man:$u(1) file://$prefix/share/doc/privfl/OPERATIONS.md\$" "$unit" ||
		fail "$u.service: Documentation= does not point into $prefix"
	[ -f "$prefix/share/doc/privfl/OPERATIONS.md" ] || fail "OPERATIONS.md not installed"
	if ! out=$(MANPATH="$prefix/share/man" systemd-analyze verify "$unit" 2>&1); then
		fail "systemd-analyze verify $u.service: $out"
	fi
	[ -z "$out" ] || fail "systemd-analyze verify $u.service warns: $out"
done
# A staged install (DESTDIR, as packagers do): the units name the final
# prefix, not the staging directory.
DESTDIR=$staged cmake --install "$build" --prefix /opt/privfl >/dev/null
for u in privfl-client privfl-aggregator; do
	unit="$staged/opt/privfl/lib/systemd/system/$u.service"
	exec_line=$(grep "^ExecStart=" "$unit") || fail "staged $u.service: no ExecStart"
	[ "${exec_line%% *}" = "ExecStart=/opt/privfl/bin/$u" ] ||
		fail "staged $u.service: $exec_line (expected /opt/privfl/bin/$u)"
	[ -x "$staged/opt/privfl/bin/$u" ] || fail "staged bin/$u missing"
done
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
app_out=$("$prefix/app") || fail "the program failed"
case $app_out in "rounds "[0-9]*) ;; *) fail "the program printed: $app_out" ;; esac
echo "PASS: install into a fresh prefix: programs, man pages, units (systemd-analyze verify, also staged with DESTDIR), configs, libprivfl.a and privfl.pc"
