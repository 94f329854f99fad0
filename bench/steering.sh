#!/usr/bin/env bash
# Pace steering (issue #12 item 2): check-ins per round as the population
# grows tenfold, the cohort staying the same. Real daemons: privfl-sim
# --processes runs the aggregator in its process and the clients in two
# child processes over tcp:// on loopback; every client obeys the
# retry-after it is given. The aggregator writes the check-ins served to
# clients outside the cohort in each round (rounds.csv, column checkins).
#   bench/steering.sh BUILD_DIR
# Runs
#   privfl-sim --dataset fashion-mnist --model logreg --clients N
#     --per-round 5 --rounds 100 --processes --threads 2 --test_data none
# for N = 20 and N = 200 and prints, for rounds 21-100 (the first rounds
# see every client's first, unsteered check-in), the mean and median
# check-ins per round, then the ratio of the population 200 run to the
# population 20 run (target <= 1.2). The workload token is the round's
# work (cohort, model, rounds counted), which both sides share; the
# population is what varies. PFL_BENCH_SMOKE=1: 8 rounds, rounds 3-8,
# for the line check only.
set -uo pipefail
build=${1:?usage: bench/steering.sh BUILD_DIR}
sim=$build/sim/privfl-sim
if [ ! -x "$sim" ]; then
	echo "steering: $build has no sim/privfl-sim" >&2
	exit 1
fi
rounds=100
first=21
if [ "${PFL_BENCH_SMOKE:-0}" = 1 ]; then
	rounds=8
	first=3
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pfl-steering.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
workload="steering,model=logreg,cohort=5,processes=2,rounds=$first-$rounds"

# run N: prints "mean median"
run() {
	local n=$1 out=$tmp/out$1
	if ! "$sim" --dataset fashion-mnist --model logreg --clients "$n" \
		--per-round 5 --rounds "$rounds" --processes --threads 2 \
		--test_data none --seed 1 --log_level warn --out "$out" \
		>"$tmp/log$n" 2>&1; then
		echo "steering: privfl-sim --clients $n failed:" >&2
		cat "$tmp/log$n" >&2
		return 1
	fi
	awk -F, -v first="$first" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == "checkins") c = i }
		NR > 1 && $1 >= first { v[++n] = $c; s += $c }
		END {
			if (c == 0 || n == 0) exit 1
			for (i = 1; i <= n; i++)
				for (j = i + 1; j <= n; j++)
					if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.2f %.1f\n", s / n, med
		}' "$out/rounds.csv"
}

small=$(run 20) || exit 1
large=$(run 200) || exit 1
set -- $small
s_mean=$1 s_med=$2
set -- $large
l_mean=$1 l_med=$2
echo "steering checkins_per_round population=20 mean=$s_mean median=$s_med workload=$workload"
echo "steering checkins_per_round population=200 mean=$l_mean median=$l_med workload=$workload"
awk -v a="$l_mean" -v b="$s_mean" -v am="$l_med" -v bm="$s_med" \
	-v w="$workload" 'BEGIN {
	r = b > 0 ? a / b : 0
	rm = bm > 0 ? am / bm : 0
	printf "steering population_200_vs_20 mean_ratio=%.2f median_ratio=%.2f target=1.2 met=%s baseline=population_20 workload=%s baseline_workload=%s\n",
		r, rm, r <= 1.2 ? "yes" : "no", w, w
}'
