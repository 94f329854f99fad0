#!/bin/bash
# Utility of differential privacy (issue #5, "Utility evidence"): test
# accuracy against epsilon on Fashion-MNIST in the simulator, 3000 clients
# of 20 examples, 100 results per round (130 selected, q = 130/3000),
# logistic regression, DP-FedAvg with server momentum 0.9.
#
# Usage: bench/dp_utility.sh BUILD_DIR [OUT_DIR] [--collect]
#   BUILD_DIR  a Release build with sim/privfl-sim
#   OUT_DIR    where the runs go (default /tmp/privfl-dp-utility)
#   --collect  skip the runs; only rebuild the CSV and plot from OUT_DIR
# Env: JOBS (runs at once, default 1; see below), ROUNDS (default 140),
#      DIST_ROUNDS (distributed run, default 100; 7-15 s a round),
#      ONLY (space-separated setting names to run), STALL_S (end a run
#      that completes no round for this long, default 300).
# Writes docs/results/dp_utility.csv (one row per evaluated round of every
# setting) and docs/img/dp_utility.png (needs python3-matplotlib).
#
# Runtime on the 2-core dev machine (shared), JOBS=1: about 35 min: four
# plain/central runs of 140 rounds at ~2 s per round (~4.5 min each) and
# the distributed run, 100 rounds at 7-10 s (secure aggregation and the
# discrete Gaussian of 130 clients), ~15 min. JOBS=2 is faster but made
# the distributed run stall once (rounds slowed by the shared CPU, then
# every selection drew too few clients; see docs/PRIVACY_UTILITY.md).
set -euo pipefail

B=${1:?usage: bench/dp_utility.sh BUILD_DIR [OUT_DIR]}
OUT=${2:-/tmp/privfl-dp-utility}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIM="$B/sim/privfl-sim"
JOBS=${JOBS:-1}
ROUNDS=${ROUNDS:-140}
DIST_ROUNDS=${DIST_ROUNDS:-100}
[ -x "$SIM" ] || { echo "no $SIM; build the privfl-sim target" >&2; exit 2; }
mkdir -p "$OUT"

# Shared by every setting. The selection window is widened and the
# check-in interval shortened so that all 3000 clients check in during
# each selection window (with the defaults, 1000 ms / 1000 ms, cohorts
# of 4-130 clients occur).
COMMON=(--dataset fashion-mnist --clients 3000 --partition iid
	--population 3000 --per_round 100 --overselect 1.3 --min_clients 100
	--model logreg --local_epochs 1 --batch 10 --lr 0.1
	--strategy fedavgm --server_lr 1 --server_momentum 0.9
	--selection_window_ms 5000 --checkin_interval_ms 300
	--eval_every 5 --delta 1e-5 --seed 1 --log_level warn)
DP=(--noise_multiplier 1.0 --clip_norm 0.5)

# name | rounds | extra arguments
SETTINGS=(
	"distributed_fixed|$DIST_ROUNDS|--dp distributed --secagg secagg+ ${DP[*]}"
	"nonprivate|$ROUNDS|--dp none"
	"central_fixed|$ROUNDS|--dp central ${DP[*]}"
	"central_fixed_s03|$ROUNDS|--dp central --noise_multiplier 1.0 --clip_norm 0.3"
	"central_adaptive|$ROUNDS|--dp central ${DP[*]} --adaptive_clip true --clip_target_quantile 0.5 --clip_lr 0.2"
)

run() {
	local name=$1 rounds=$2 extra=$3
	rm -rf "${OUT:?}/$name"
	echo "$(date -u +%T) start $name: $SIM ${COMMON[*]} --rounds $rounds $extra --out $OUT/$name"
	# shellcheck disable=SC2086
	"$SIM" "${COMMON[@]}" --rounds "$rounds" $extra --out "$OUT/$name" \
		>"$OUT/$name.log" 2>&1 &
	local pid=$! last=$SECONDS n=0 m
	# Watchdog: the aggregator can stop starting rounds (see
	# docs/PRIVACY_UTILITY.md); end the run if no round completes for
	# STALL_S seconds and keep the rounds done so far.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		m=$(wc -l <"$OUT/$name/rounds.csv" 2>/dev/null || echo 0)
		if [ "$m" != "$n" ]; then
			n=$m
			last=$SECONDS
		elif [ $((SECONDS - last)) -gt "${STALL_S:-300}" ]; then
			echo "$(date -u +%T) $name: no round for ${STALL_S:-300} s, ending it"
			kill "$pid"
		fi
	done
	wait "$pid" || true
	echo "$(date -u +%T) done  $name: $(tail -n 1 "$OUT/$name.log")"
}

COLLECT=${3:-}
t0=$(date +%s)
[ "$COLLECT" = --collect ] || for s in "${SETTINGS[@]}"; do
	IFS='|' read -r name rounds extra <<<"$s"
	if [ -n "${ONLY:-}" ] && ! [[ " $ONLY " == *" $name "* ]]; then
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	run "$name" "$rounds" "$extra" &
done
wait
echo "all runs: $(( $(date +%s) - t0 )) s"

# One CSV: setting plus the rounds.csv columns, evaluated rounds only.
CSV="$SRC/docs/results/dp_utility.csv"
mkdir -p "$SRC/docs/results" "$SRC/docs/img"
first=1
for s in "${SETTINGS[@]}"; do
	IFS='|' read -r name _ _ <<<"$s"
	f="$OUT/$name/rounds.csv"
	[ -f "$f" ] || { echo "missing $f" >&2; continue; }
	if [ $first = 1 ]; then
		echo "setting,$(head -n 1 "$f")" >"$CSV"
		first=0
	fi
	awk -F, -v n="$name" 'NR > 1 && $2 != "nan" { print n "," $0 }' "$f" >>"$CSV"
done
echo "wrote $CSV"
# The Debian python3-matplotlib is in /usr/bin/python3; a python3 earlier
# in PATH (pyenv, venv) may lack it.
PY=python3
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import matplotlib' 2>/dev/null; then PY=$p; break; fi
done
"$PY" "$SRC/bench/plot_dp_utility.py" "$CSV" "$SRC/docs/img/dp_utility.png"
