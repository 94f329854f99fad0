#!/usr/bin/env bash
# The man pages and --help agree with the programs' settings tables (issue
# #14 item 8 and "--help shows the bounds"):
#  1. the SETTINGS sections of docs/man/privfl-{aggregator,client,sim}.1 are
#     what tools/gen-man.sh writes from the built programs (fix: run
#     tools/gen-man.sh BUILD docs/man), and hold one entry a setting;
#  2. each program's --help names every setting of its table with the
#     table's default and, for numbers, its bounds.
# usage: docs_man_uptodate.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cp "$src"/docs/man/*.1 "$tmp/"
"$src/tools/gen-man.sh" "$build" "$tmp"
for p in privfl-aggregator privfl-client privfl-sim; do
	if ! diff -u "$src/docs/man/$p.1" "$tmp/$p.1"; then
		fail "docs/man/$p.1 is out of date: run tools/gen-man.sh $build docs/man"
	fi
done

for prog in aggregator/privfl-aggregator client/privfl-client sim/privfl-sim; do
	p=${prog#*/}
	"$build/$prog" --config-markdown >"$tmp/$p.md"
	"$build/$prog" --help >"$tmp/$p.help"
	rows=$(grep -c '^| `' "$tmp/$p.md")
	[ "$rows" -gt 10 ] || fail "$p --config-markdown lists only $rows settings"
	section=$(sed -n '/^\.\\" BEGIN GENERATED SETTINGS$/,/^\.\\" END GENERATED SETTINGS$/p' \
		"$src/docs/man/$p.1")
	entries=$(grep -c '^\.TP$' <<<"$section" || true)
	[ "$entries" = "$rows" ] ||
		fail "$p.1 documents $entries settings, the table has $rows"
	# Each table row: the man page and --help carry its name, default and
	# bounds. The cells are split on '|' not preceded by a backslash.
	while IFS=$'\t' read -r name def range; do
		grep -q "^\.BI $name " <<<"$section" ||
			fail "$p.1 lacks setting $name"
		line=$(grep -E -- "^  --$name +" "$tmp/$p.help") ||
			fail "$p --help lacks --$name"
		[ "$def" = "(none)" ] && def=none
		case $line in
		*"; default $def)"*) ;;
		*) fail "$p --help: --$name does not show default $def: $line" ;;
		esac
		if [ -n "$range" ]; then
			case $line in
			*", $range; default "*) ;;
			*) fail "$p --help: --$name does not show bounds $range: $line" ;;
			esac
		fi
	done < <(sed -n 's/\\|/\x01/g; s/^| `\([^`]*\)` | [^|]* | \([^|]*\) | \([^|]*\) | .*/\1\t\2\t\3/p' \
		"$tmp/$p.md" | sed 's/ *\t */\t/g; s/ *$//')
done
echo "PASS: man pages and --help match the settings tables of the three programs"
