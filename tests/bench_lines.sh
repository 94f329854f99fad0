#!/usr/bin/env bash
# The bench_lines test (issue #17): runs every benchmark of make bench at
# smoke sizes (PFL_BENCH_SMOKE=1 bench/run.sh, the five at once) and fails if any printed
# ratio compares different workloads (bench/check_lines.sh), if a
# benchmark fails to run, or if a benchmark printed none of the comparison
# lines it should. Without python3-torch the PyTorch baselines are not
# run (and their lines not required); the C benchmarks are checked all
# the same.
#   tests/bench_lines.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=${1:?usage: tests/bench_lines.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: tests/bench_lines.sh SOURCE_DIR BUILD_DIR}
out=$(mktemp "${TMPDIR:-/tmp}/pfl-bench-lines.XXXXXX")
trap 'rm -f "$out" "$out".*' EXIT
fail=0

# The five benchmarks run at once (each through bench/run.sh, which also
# checks its own lines): on a machine loaded by other jobs, five runnable
# processes get more of the CPU than one, and smoke figures are not read.
names="train fedavg aggregate secagg privacy"
pids=""
for b in $names; do
	PFL_BENCH_SMOKE=1 PFL_BENCH_ONLY=$b "$src/bench/run.sh" "$build" \
		>"$out.$b" 2>&1 &
	pids="$pids $!"
done
set -- $names
for pid in $pids; do
	if ! wait "$pid"; then
		echo "bench_lines: PFL_BENCH_ONLY=$1 bench/run.sh failed"
		fail=1
	fi
	shift
done
for b in $names; do
	cat "$out.$b" >>"$out"
	rm -f "$out.$b"
done
cat "$out"
"$src/bench/check_lines.sh" "$out" >/dev/null 2>&1 || fail=1

# need NAME PATTERN: the output has a comparison line of NAME.
need() {
	if ! grep -E "^$1 .*baseline_workload=" "$out" >/dev/null; then
		echo "bench_lines: no comparison line from $1 ($2)"
		fail=1
	fi
}
need secagg "bench_secagg --smoke"
need aggregate "bench_aggregate"
need privacy "bench_privacy --smoke"
need fedavg "the compute floor of bench/fedavg.sh"
if "${PFL_BENCH_PYTHON:-/usr/bin/python3}" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") and u.find_spec("numpy")))' 2>/dev/null; then
	need train "bench/train.sh against PyTorch"
	grep -E "^fedavg iid compare .*baseline=pytorch" "$out" >/dev/null || {
		echo "bench_lines: no PyTorch comparison from bench/fedavg.sh"
		fail=1
	}
else
	echo "bench_lines: python3-torch absent: PyTorch baselines not run" \
		"(the C benchmarks are checked)"
	grep -E "^train .*privfl_samples_per_s=" "$out" >/dev/null || {
		echo "bench_lines: no privfl line from bench/train.sh"
		fail=1
	}
fi
"$src/bench/check_lines.sh" "$out"
[ $fail = 0 ] && echo "bench_lines: ok"
exit $fail
