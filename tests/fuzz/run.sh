#!/bin/sh
# Run every libFuzzer binary built in BUILD_DIR for SECONDS each.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# BUILD_DIR comes from clang with -DPFL_FUZZ=ON (make fuzz). Each target
# starts from its committed seed corpus (tests/fuzz/corpus/<target>/) and
# writes new inputs to BUILD_DIR/fuzz-work/<target>/ (not to the checkout)
# and crashes to BUILD_DIR/fuzz-artifacts/. A crash, leak or sanitizer
# report fails the run; copy the artifact into the corpus and add a unit
# test for it. Exit status: 0 when every target ran clean.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
	exit 2
fi
build=$(cd "$1" && pwd) || exit 2
secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$build/fuzz-work
arts=$build/fuzz-artifacts
mkdir -p "$work" "$arts"

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(find "$build" -type f -perm -u+x -name 'fuzz_*' \
		! -name '*_replay' ! -name '*.*' -printf '%f\n' | sort -u)
fi
if [ -z "$targets" ]; then
	echo "no fuzz targets in $build (configure with CC=clang -DPFL_FUZZ=ON)" >&2
	exit 1
fi

failed=""
for t in $targets; do
	bin=$(find "$build" -type f -name "$t" -perm -u+x | head -n 1)
	if [ -z "$bin" ]; then
		echo "fuzz: $t not built" >&2
		failed="$failed $t"
		continue
	fi
	mkdir -p "$work/$t"
	echo "fuzz: $t for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$arts/$t-" \
		"$work/$t" "$src/tests/fuzz/corpus/$t" \
		>"$work/$t.log" 2>&1; then
		echo "fuzz: $t FAILED; see $work/$t.log and $arts/" >&2
		tail -n 30 "$work/$t.log" >&2
		failed="$failed $t"
	else
		grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' \
			"$work/$t.log" | sed "s/^/fuzz: $t /"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: failures:$failed" >&2
	exit 1
fi
echo "fuzz: all targets clean"
