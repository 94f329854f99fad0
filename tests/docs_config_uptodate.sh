#!/bin/sh
# Fails when docs/CONFIG.md differs from what the built programs generate
# (tools/gen-config-md.sh). Fix: tools/gen-config-md.sh BUILD docs/CONFIG.md
# usage: docs_config_uptodate.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$src/tools/gen-config-md.sh" "$build" "$tmp"
if ! diff -u "$src/docs/CONFIG.md" "$tmp"; then
	echo "docs/CONFIG.md is out of date: run" \
	     "tools/gen-config-md.sh $build docs/CONFIG.md" >&2
	exit 1
fi
echo "docs/CONFIG.md is up to date"
