#!/usr/bin/env bash
# Issue #14 item 9: the aggregator's exit status at the privacy budget is 0
# (the federation ended as its budget planned; --help, QUICKSTART §6,
# OPERATIONS §3 and the unit file say the same), and one released round is
# all that fits: central DP, q = 1, z = 2, budget 3.0 (one round costs
# epsilon 1.99-2.17, two 2.94-3.19 at delta 1e-5).
# usage: budget_exit.sh BUILD_DIR
set -euo pipefail
build=$1
dir=$(mktemp -d /tmp/privfl-budget.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do
		[ -e "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
# (captured, not piped to grep -q: under pipefail an early grep exit can
# kill the writer with SIGPIPE and fail the pipeline)
help=$("$build/client/privfl-client" --help) || fail "no client"
[ -n "$help" ] || fail "client --help printed nothing"
help=$("$build/aggregator/privfl-aggregator" --help) || fail "no aggregator"
grep -q "0 all rounds done or the privacy budget" <<<"$help" ||
	fail "--help does not state the exit status at the budget"
"$build/tools/privfl" keygen --out "$dir/agg" >/dev/null
"$build/tools/privfl" keygen --out "$dir/c1" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="tcp://127.0.0.1:$port"
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--identity-dir "$dir/agg" --rounds 10 --clients-per-round 1 \
	--min-clients 1 --population 1 --overselect 1.0 \
	--selection-window-ms 300 --checkin-interval-ms 100 \
	--round-timeout-s 60 --dp-mode central --noise-multiplier 2 \
	--clip-norm 1 --epsilon-budget 3.0 --out-dir "$dir/out" \
	--log-level info >"$dir/agg.log" 2>&1 &
agg=$!
pids+=($agg)
"$build/client/privfl-client" --server "$url" --identity-dir "$dir/c1" \
	--server-key "$dir/agg/identity.pub" --shard 0 --shards 12 \
	--backoff-min-ms 50 --backoff-max-ms 300 >"$dir/client.log" 2>&1 &
pids+=($!)
st=
for _ in $(seq 1 900); do
	if ! kill -0 $agg 2>/dev/null; then
		st=0
		wait $agg || st=$?
		break
	fi
	sleep 0.1
done
[ -n "$st" ] || fail "the aggregator did not stop within 90 s"
[ "$st" = 0 ] || fail "exit status $st at the privacy budget, expected 0"
grep -q "stopped at the privacy budget after 1 rounds" "$dir/agg.log" ||
	fail "no 'stopped at the privacy budget' line"
# the summary line (issue #14 item 10; ops14_agg_summary.sh has the others)
grep -q "^privfl-aggregator: stopped at the privacy budget: 1 rounds released, .*, epsilon [0-9.]* (delta 1e-05); results in $dir/out/rounds.csv" "$dir/agg.log" ||
	fail "no summary line naming the budget, 1 round and epsilon"
ok=$(grep -c ',ok' "$dir/out/rounds.csv" || true)
[ "$ok" = 1 ] || fail "$ok rounds released, expected 1"
echo "ok: exit 0 at the privacy budget after 1 round"
