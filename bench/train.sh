#!/usr/bin/env bash
# Training throughput of privfl's engine against PyTorch doing the same work
# (shuffled mini-batches, forward, cross-entropy, backward, SGD step), single
# thread each, in the same run. Each figure is the best of REPS runs inside
# one process, so that other load on the machine distorts it less.
#   bench/train.sh BUILD_DIR [REPS]
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
py=/usr/bin/python3
have_torch=0
if $py -c 'import torch, numpy' 2>/dev/null; then
	have_torch=1
fi

# model batch privfl_samples torch_steps target
run() {
	local model=$1 batch=$2 samples=$3 steps=$4 target=$5 p t
	p=$("$bin" "$model" "$batch" "$samples" "$reps" | sed 's/.*samples_per_s=//')
	if [ $have_torch = 1 ]; then
		t=$($py "$here/torch_train.py" bench --model "$model" --batch "$batch" \
			--steps "$steps" --reps "$reps" | sed 's/.*samples_per_s=//')
		awk -v m="$model" -v b="$batch" -v p="$p" -v t="$t" -v g="$target" \
			'BEGIN { r = p / t; printf "train %-4s B=%-3d privfl %8.0f samples/s  pytorch %8.0f samples/s  ratio %.2f (target %.1f) %s\n", m, b, p, t, r, g, (r >= g ? "ok" : "MISS") }'
	else
		printf 'train %-4s B=%-3d privfl %8.0f samples/s  (python3-torch not installed: no baseline)\n' "$model" "$batch" "$p"
	fi
}

run mlp 10 20000 2000 2.0
run mlp 32 20000 600 1.0
run mlp 64 20000 300 1.2
run cnn 32 640 20 1.0
