#!/usr/bin/env bash
# docs/SIMULATOR.md: rounds.csv's train_loss is the clients' mean local
# training loss without secure aggregation or DP, and nan (not reported by
# the clients) with either, since a loss is a per-client statistic of
# local data outside the masked sum / the DP guarantee.
# usage: ops14_train_loss.sh BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1
dir=$(mktemp -d /tmp/privfl-trainloss.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
run() {
	local name=$1
	shift
	"$build/sim/privfl-sim" --model logreg --clients 10 --per-round 5 \
		--rounds 2 --seed 1 --out "$dir/$name" --log-level error "$@" \
		>"$dir/$name.log" 2>&1 || { cat "$dir/$name.log" >&2; fail "$name run"; }
	# column train_loss, by its header
	col=$(head -n 1 "$dir/$name/rounds.csv" | tr ',' '\n' | grep -n '^train_loss$' | cut -d: -f1)
	[ -n "$col" ] || fail "$name: no train_loss column"
	values=$(tail -n +2 "$dir/$name/rounds.csv" | cut -d, -f"$col" | tr '\n' ' ')
}
run plain
for v in $values; do
	[ "$v" != nan ] || fail "plain run: train_loss nan ($values)"
	awk -v v="$v" 'BEGIN { exit !(v > 0 && v < 10) }' || fail "plain run: train_loss $v"
done
run secagg --secagg secagg
[ "$values" = "nan nan " ] || fail "SecAgg run: train_loss '$values', expected nan nan"
run dp --dp central --clip-norm 1 --noise-multiplier 1
[ "$values" = "nan nan " ] || fail "DP run: train_loss '$values', expected nan nan"
echo "PASS: train_loss reported without SecAgg/DP, nan with either"
