#!/usr/bin/env bash
# The simulator's cost per round follows the cohort, not the population
# (issue #12): two figures, measured in the same run.
# 1. Round time at a population of 1,000,000 against 10,000, same cohort
#    of 1,000 (logreg, no faults): privfl-sim's rounds.csv "seconds" of
#    each round but the first (start-up), median over ROUNDS-1 rounds, the
#    two populations run alternately REPS times each; the ratio of the
#    medians of all their rounds. Target <= 1.5x.
# 2. Peak resident memory of privfl-sim --clients 1000000 --per-round 10000
#    --model mlp (2 rounds; getrusage's ru_maxrss, which privfl-sim
#    prints). Target < 4 GiB.
#   bench/sim_population.sh BUILD_DIR [REPS] [ROUNDS]
# PFL_BENCH_SMOKE=1: populations 200 and 20,000, cohort 20, 2 rounds,
# memory run with cohort 100 and logreg (line check only).
set -uo pipefail
build=${1:?usage: bench/sim_population.sh BUILD_DIR [REPS] [ROUNDS]}
reps=${2:-2}
rounds=${3:-5}
sim=$build/sim/privfl-sim
if [ ! -x "$sim" ]; then
	echo "sim_population: $build has no sim/privfl-sim" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pfl-simpop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
small=10000 large=1000000 cohort=1000 mem_cohort=10000 mem_model=mlp
if [ "${PFL_BENCH_SMOKE:-0}" = 1 ]; then
	small=200 large=20000 cohort=20 reps=1 rounds=2
	mem_cohort=100 mem_model=logreg
fi
# round_timeout_s: a cohort of 10,000 MLP clients takes a minute a round
# on a loaded 2-core machine; the default 60 s would close it early.
common=(--dataset fashion-mnist --model logreg --partition iid --seed 1
	--local-epochs 1 --batch 32 --lr 0.05 --eval-every 0
	--log-level warn)

# run_rounds POPULATION NAME: appends the seconds of rounds 2.. to
# $tmp/POPULATION.times, or fails.
run_rounds() {
	local out=$tmp/$2
	rm -rf "$out"
	if ! "$sim" "${common[@]}" --clients "$1" --per-round "$cohort" \
		--rounds "$rounds" --out "$out" >"$tmp/$2.log" 2>&1; then
		echo "sim_population: privfl-sim --clients $1 failed:" >&2
		tail -5 "$tmp/$2.log" >&2
		return 1
	fi
	awk -F, 'NR > 2 && $NF == "ok" { print $10 }' "$out/rounds.csv" \
		>>"$tmp/$1.times"
}

median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

workload="sim_round,model=logreg,per_round=$cohort,partition=iid,rounds=$rounds"
for ((i = 0; i < reps; i++)); do
	run_rounds "$small" "small$i" || exit 1
	run_rounds "$large" "large$i" || exit 1
done
ms=$(median "$tmp/$small.times")
ml=$(median "$tmp/$large.times")
n=$(wc -l <"$tmp/$large.times")
echo "sim round time: population $small median ${ms} s, population" \
	"$large median ${ml} s ($n rounds each side after the first," \
	"$reps runs each, alternating)"
awk -v s="$ms" -v l="$ml" -v w="$workload" -v ps="$small" -v pl="$large" \
	'BEGIN { r = l / s
	printf "sim_round_population ratio=%.2f population=%d baseline=population_%d workload=%s baseline_workload=%s target<=1.5 %s\n",
		r, pl, ps, w, w, (r <= 1.5 ? "met" : "MISSED") }'

out=$tmp/mem
if ! "$sim" "${common[@]}" --model "$mem_model" --clients "$large" \
	--per-round "$mem_cohort" --rounds 2 --round-timeout-s 600 \
	--out "$out" >"$tmp/mem.log" 2>&1; then
	echo "sim_population: memory run failed:" >&2
	tail -5 "$tmp/mem.log" >&2
	exit 1
fi
rss=$(sed -n 's/.*peak resident memory \([0-9]*\) MiB.*/\1/p' "$tmp/mem.log")
resident=$(sed -n 's/.*at most \([0-9]*\) clients resident.*/\1/p' \
	"$tmp/mem.log")
secs=$(awk -F, 'NR > 1 { s = s " " $10 } END { print s }' "$out/rounds.csv")
echo "sim_memory peak_rss_mib=${rss:-?} population=$large" \
	"per_round=$mem_cohort model=$mem_model rounds=2" \
	"clients_resident_at_once=${resident:-?} round_seconds=[${secs# }]" \
	"target<4096 $([ "${rss:-999999}" -lt 4096 ] && echo met || echo MISSED)"
