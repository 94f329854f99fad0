#!/bin/sh
# "Code examples in docs must compile": every ```c block of
# docs/EMBEDDING.md must appear verbatim in docs/examples/embed.c, and
# embed.c must build against the build tree's headers and libprivfl.a with
# the project's warning flags, and run: a small in-process federation whose
# devices train with the application's own callback (exit 0 = all rounds
# done, accuracy >= 0.8).
# usage: docs_examples.sh SOURCE_DIR BUILD_DIR C_COMPILER
set -eu
src=$1
build=$2
cc=${3:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The snippets in the guide are taken from the example file.
awk -v dir="$work" '
	/^```c[ \t]*$/ { n++; f = sprintf("%s/snippet%02d.c", dir, n); inb = 1; next }
	/^```/ && inb { inb = 0; close(f); next }
	inb { print > f }
' "$src/docs/EMBEDDING.md"
found=0
for s in "$work"/snippet*.c; do
	[ -e "$s" ] || continue
	found=$((found + 1))
	if ! python3 - "$s" "$src/docs/examples/embed.c" <<'PY'
import sys
snip = open(sys.argv[1]).read().strip("\n")
full = open(sys.argv[2]).read()
sys.exit(0 if snip in full else 1)
PY
	then
		echo "docs/EMBEDDING.md: code block $(basename "$s") is not" \
		     "in docs/examples/embed.c:" >&2
		cat "$s" >&2
		exit 1
	fi
done
if [ "$found" -lt 2 ]; then
	echo "docs/EMBEDDING.md: expected code blocks from embed.c" >&2
	exit 1
fi
echo "$found code blocks of EMBEDDING.md match docs/examples/embed.c"

# 2. Build against the build tree.
inc=""
for d in common crypto privacy model proto aggregator client sim; do
	inc="$inc -I$src/$d/include"
done
san=""
if grep -q '^PFL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
	san="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Werror $san $inc \
	-o "$work/embed" "$src/docs/examples/embed.c" "$build/libprivfl.a" \
	$(pkg-config --libs libsodium msgpack) -lnng -lz -lm -pthread
echo "docs/examples/embed.c builds"

# 3. Run it (and remove the results directory it prints).
rc=0
"$work/embed" 5 >"$work/out" || rc=$?
cat "$work/out"
res=$(sed -n 's/.*results in \(\/tmp\/privfl-embed-[A-Za-z0-9]*\)$/\1/p' "$work/out")
[ -n "$res" ] && rm -rf "$res"
exit "$rc"
