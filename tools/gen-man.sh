#!/bin/sh
# Fill the SETTINGS sections of the man pages from the settings tables
# compiled into the programs (their --config-markdown output, the same text
# tools/gen-config-md.sh turns into docs/CONFIG.md), so that the man pages
# list every setting with its type, default and bounds and cannot drift
# from the code. Only the lines between the markers
#   .\" BEGIN GENERATED SETTINGS   and   .\" END GENERATED SETTINGS
# are replaced; the rest of each page is written by hand.
# tests/docs_man_uptodate.sh fails when a committed page differs from what
# this writes.
#
# usage: tools/gen-man.sh [BUILD_DIR] [MAN_DIR]
#   BUILD_DIR  a configured and built tree (default: ./build)
#   MAN_DIR    directory with the pages to update (default: docs/man)
set -eu
build=${1:-build}
mandir=${2:-docs/man}

# Markdown rows "| `name` | type | default | range | help |" (a '|' inside a
# cell is written '\|') to roff: a tagged paragraph a setting.
to_roff() {
	awk '
	function esc(s) {
		gsub(/\\/, "\\e", s)
		return s
	}
	function lit(s) {
		s = esc(s)
		gsub(/-/, "\\-", s)
		return s
	}
	function line(s) {
		if (s ~ /^[.'"'"']/)
			s = "\\&" s
		print s
	}
	/^\| `/ {
		row = $0
		gsub(/\\\|/, "\001", row)
		n = split(row, c, "|")
		if (n != 7) {
			print "gen-man: cannot read row: " $0 > "/dev/stderr"
			exit 1
		}
		for (i = 2; i <= 6; i++) {
			gsub(/^ +| +$/, "", c[i])
			gsub(/\001/, "|", c[i])
		}
		name = c[2]
		gsub(/`/, "", name)
		print ".TP"
		print ".BI " lit(name) " \" " lit(c[3]) "\""
		line(esc(c[6]))
		print ".br"
		def = c[4] == "(none)" ? "none" : "\\fB" lit(c[4]) "\\fR"
		if (c[5] != "")
			line("Default " def "; from " lit(c[5]) ".")
		else
			line("Default " def ".")
	}'
}

gen_page() {
	prog=$1
	page=$mandir/$(basename "$prog").1
	if [ ! -x "$build/$prog" ]; then
		echo "gen-man: $build/$prog not built" >&2
		exit 2
	fi
	begin=$(grep -c '^\.\\" BEGIN GENERATED SETTINGS$' "$page" || true)
	end=$(grep -c '^\.\\" END GENERATED SETTINGS$' "$page" || true)
	if [ "$begin" != 1 ] || [ "$end" != 1 ]; then
		echo "gen-man: $page needs one BEGIN and one END GENERATED SETTINGS marker" >&2
		exit 2
	fi
	gen="$page.gen.$$"
	tmp="$page.tmp.$$"
	"$build/$prog" --config-markdown | to_roff >"$gen"
	awk -v gen="$gen" '
	/^\.\\" BEGIN GENERATED SETTINGS$/ {
		print
		while ((getline l < gen) > 0)
			print l
		skip = 1
		next
	}
	/^\.\\" END GENERATED SETTINGS$/ { skip = 0 }
	!skip { print }' "$page" >"$tmp"
	rm -f "$gen"
	mv "$tmp" "$page"
}

gen_page aggregator/privfl-aggregator
gen_page client/privfl-client
gen_page sim/privfl-sim
