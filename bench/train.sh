#!/usr/bin/env bash
# Training throughput of privfl's engine against PyTorch doing the same work
# (shuffled mini-batches, forward, cross-entropy, backward, SGD step), single
# thread each, in the same run. Each figure is the best of REPS runs inside
# one process, so that other load on the machine distorts it less.
#   bench/train.sh BUILD_DIR [REPS]
# Both engines run the same workload (model, batch, samples, reps, one
# thread), each program prints it as workload=, and the ratio line carries
# both (docs/BENCHMARKS.md, "Line convention"). PFL_BENCH_SMOKE=1: mlp
# at B=10 only, tiny sizes, one run, for the line check only.
# Targets (issue #2): mlp >= 2x PyTorch at B=10, >= 1.2x at B=64; cnn >= 1x.
set -euo pipefail
build=${1:?usage: bench/train.sh BUILD_DIR [REPS]}
reps=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench/bench_train
[ -x "$bin" ] || bin=$build/bench_train
if [ ! -x "$bin" ]; then
	echo "train: $build has no bench_train (build with -DPFL_BENCH=ON)" >&2
	exit 1
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
py=${PFL_BENCH_PYTHON:-/usr/bin/python3}
have_torch=0
if $py -c 'import importlib.util as u, sys; sys.exit(not (u.find_spec("torch") and u.find_spec("numpy")))' 2>/dev/null; then
	have_torch=1
fi

# run MODEL BATCH SAMPLES TARGET: both engines train SAMPLES samples
# (SAMPLES / BATCH steps) per run; each program prints its workload= and
# the ratio is printed only when the two are equal.
status=0
run() {
	local model=$1 batch=$2 samples=$3 target=$4 p t pw tw ps ts
	p=$("$bin" "$model" "$batch" "$samples" "$reps") || return 1
	pw=$(echo "$p" | sed -n 's/.*workload=\([^ ]*\).*/\1/p')
	ps=$(echo "$p" | sed -n 's/.*samples_per_s=\([0-9.]*\).*/\1/p')
	if [ $have_torch = 0 ]; then
		printf 'train %-4s B=%-3d workload=%s privfl_samples_per_s=%s (python3-torch not installed: no baseline)\n' \
			"$model" "$batch" "$pw" "$ps"
		return 0
	fi
	t=$($py "$here/torch_train.py" bench --model "$model" --batch "$batch" \
		--samples "$samples" --reps "$reps") || return 1
	tw=$(echo "$t" | sed -n 's/.*workload=\([^ ]*\).*/\1/p')
	ts=$(echo "$t" | sed -n 's/.*samples_per_s=\([0-9.]*\).*/\1/p')
	if [ "$pw" != "$tw" ]; then
		echo "train: privfl ran $pw but PyTorch ran $tw: not compared" >&2
		return 1
	fi
	awk -v m="$model" -v b="$batch" -v w="$pw" -v p="$ps" -v t="$ts" -v g="$target" \
		'BEGIN { r = p / t; printf "train %-4s B=%-3d workload=%s baseline=pytorch baseline_workload=%s privfl_samples_per_s=%.0f pytorch_samples_per_s=%.0f ratio=%.2f target=%.1f %s\n", m, b, w, w, p, t, r, g, (r >= g ? "ok" : "MISS") }'
}

if [ "${PFL_BENCH_SMOKE:-0}" = 1 ]; then
	# tiny sizes for the line check (tests/bench_lines.sh), not figures
	reps=1
	run mlp 10 640 2.0 || status=1
	exit $status
fi
run mlp 10 20000 2.0 || status=1
run mlp 32 19200 1.0 || status=1
run mlp 64 19200 1.2 || status=1
run cnn 32 640 1.0 || status=1
exit $status
