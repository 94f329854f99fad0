#!/usr/bin/env bash
# Every benchmark of privfl, one after the other (make bench). Each prints
# its own figures with ratios against a baseline measured in the same run;
# see docs/BENCHMARKS.md for what they measure and the recorded figures.
#   bench/run.sh BUILD_DIR
# BUILD_DIR should be a Release build (cmake -DCMAKE_BUILD_TYPE=Release).
# About 14 minutes on 2 idle cores. PFL_BENCH_FULL=1 runs the secure
# aggregation benchmark at full size (about 15 minutes more) instead of
# --quick. PFL_BENCH_ONLY="train fedavg ..." runs only the named ones
# (train fedavg aggregate secagg client conns privacy population
# steering).
# The PyTorch baselines need python3-torch and python3-numpy (make bench
# installs them); without them those benchmarks print privfl's figures
# and say the baseline is unavailable. Exit status: 0 when every benchmark
# ran (a missed target is reported, not an error), 1 otherwise.
# PFL_BENCH_PYTHON: the interpreter for the PyTorch baselines of
# fedavg.sh (default /usr/bin/python3, where Debian's python3-torch is).
# PFL_BENCH_SMOKE=1 runs every benchmark at tiny sizes (under a minute):
# what the bench_lines test runs; its figures are not worth reading.
# Every line that prints a ratio names the workload of both its sides
# (docs/BENCHMARKS.md, "Line convention"); at the end the whole output is
# checked by bench/check_lines.sh, and a ratio across different
# workloads fails the run.
set -uo pipefail
build=${1:?usage: bench/run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd) || exit 1
only=${PFL_BENCH_ONLY:-train fedavg aggregate secagg client conns privacy population steering}
smoke=${PFL_BENCH_SMOKE:-0}
failed=""
log=$(mktemp "${TMPDIR:-/tmp}/pfl-bench.XXXXXX")
trap 'rm -f "$log"' EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
	echo "bench: $build is not a CMake build directory" >&2
	exit 1
fi
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ "$type" != Release ]; then
	echo "bench: warning: $build is a '$type' build; figures are meant" \
		"for -DCMAKE_BUILD_TYPE=Release" >&2
fi
if ! "${PFL_BENCH_PYTHON:-/usr/bin/python3}" -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") and u.find_spec("numpy")))' 2>/dev/null; then
	echo "bench: python3-torch/python3-numpy not installed: PyTorch" \
		"baselines unavailable (make bench installs them)"
fi

# bench NAME DESCRIPTION CMD...: a header, the run, its time and status.
bench() {
	local name=$1 what=$2 t0 rc
	shift 2
	case " $only " in *" $name "*) ;; *) return 0 ;; esac
	echo
	echo "=== $name: $what"
	echo "=== $*"
	echo "=== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(date +%s)
	"$@" | tee -a "$log"
	rc=${PIPESTATUS[0]}
	echo "=== $name: $((($(date +%s) - t0))) s$([ $rc = 0 ] || echo ", FAILED (exit $rc)")"
	[ $rc = 0 ] || failed="$failed $name"
}

echo "privfl benchmarks: $build ($(nproc) cores, $(uname -m))"
if [ "$smoke" = 1 ]; then
	echo "bench: PFL_BENCH_SMOKE=1: tiny sizes, for the line check only"
	bench train "training throughput, privfl vs PyTorch (smoke)" \
		"$here/train.sh" "$build"
	bench fedavg "FedAvg simulation, privfl-sim vs PyTorch (smoke)" \
		"$here/fedavg.sh" "$build"
	# 40 x 4 MB: the ring of updates is still larger than a STREAM array
	bench aggregate "server aggregation vs memory bandwidth (smoke)" \
		"$build/bench/bench_aggregate" 40 1048576 1
	bench secagg "secure aggregation vs floors (smoke)" \
		"$build/bench/bench_secagg" --smoke
	bench client "one device's SecAgg+ round vs its floors (smoke)" \
		"$build/bench/bench_client" --smoke
	bench conns "connections to one aggregator (smoke)" \
		"$here/conns.sh" "$build"
	bench privacy "DP accounting and noise (smoke)" \
		"$here/privacy.sh" "$build" --smoke
	bench population "simulator: round time and memory vs population (smoke)" \
		"$here/sim_population.sh" "$build"
	bench steering "pace steering: check-ins per round, population 20 vs 200 (smoke)" \
		"$here/steering.sh" "$build"
else
	bench train "training throughput, privfl vs PyTorch (1 thread each)" \
		"$here/train.sh" "$build"
	bench fedavg "50-round FedAvg simulation, privfl-sim vs PyTorch reference" \
		"$here/fedavg.sh" "$build"
	bench aggregate "server aggregation throughput vs memory bandwidth" \
		"$build/bench/bench_aggregate"
	if [ "${PFL_BENCH_FULL:-0}" = 1 ]; then
		bench secagg "secure aggregation vs keystream/X25519 floors (full)" \
			"$build/bench/bench_secagg"
	else
		bench secagg "secure aggregation vs keystream/X25519 floors (--quick; PFL_BENCH_FULL=1 for full sizes)" \
			"$build/bench/bench_secagg" --quick
	fi
	bench client "one device's SecAgg+ round (k = 72, 1M parameters): memory and CPU vs floors" \
		"$build/bench/bench_client"
	bench conns "10,000 connections to one aggregator, cohort 1,000" \
		"$here/conns.sh" "$build"
	bench privacy "DP accounting and noise vs baselines" \
		"$here/privacy.sh" "$build"
	bench population "simulator: round time at population 1M vs 10k, memory at 1M" \
		"$here/sim_population.sh" "$build"
	bench steering "pace steering: check-ins per round, population 20 vs 200" \
		"$here/steering.sh" "$build"
fi

echo
if ! "$here/check_lines.sh" "$log"; then
	failed="$failed line-check"
fi
if [ -n "$failed" ]; then
	echo "bench: failed:$failed"
	exit 1
fi
echo "bench: all benchmarks ran"
