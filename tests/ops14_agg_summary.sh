#!/usr/bin/env bash
# Issue #14: privfl-aggregator ends with a summary line, as privfl-sim does
# (item 10), and /status reports no noise multiplier or delta without DP.
#  1. DP off, 2 rounds, one client: /status has "noise_multiplier":null and
#     "delta":null; at the end, exit 0 and one stdout line "all rounds done:
#     2 rounds released, 0 abandoned ... accuracy A" with A the last
#     accuracy in rounds.csv, no epsilon, and the paths of the results.
#  1b. resumed for a third round: "3 rounds released (1 in this run)".
#  2. central DP, no client, SIGTERM: /status has noise_multiplier 1.5;
#     exit 3 and "stopped by a signal: 0 rounds released".
# (The budget case, "stopped at the privacy budget" with epsilon, is in
# budget_exit.sh.)
# usage: ops14_agg_summary.sh BUILD_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1
dir=$(mktemp -d /tmp/privfl-summary.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log "$dir"/*.out; do
		[ -e "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# status_field URL KEY PID: poll /status until it answers (60 s; fail
# at once when PID has exited), print config[KEY] as JSON.
status_field() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, os, sys, time, urllib.request
url, key, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.time() + 60
while True:
    try:
        with urllib.request.urlopen(url + "/status", timeout=10) as r:
            print(json.dumps(json.loads(r.read().decode())["config"][key]))
            break
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            print("the aggregator exited", file=sys.stderr)
            sys.exit(1)
        if time.time() > deadline:
            print("no /status within 60 s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.2)
EOF
}
# wait_exit PID SECONDS: the exit status in $st, or fail (not in $(...):
# a subshell cannot wait for this shell's children).
wait_exit() {
	st=
	for _ in $(seq 1 $(($2 * 10))); do
		if ! kill -0 "$1" 2>/dev/null; then
			st=0
			wait "$1" || st=$?
			break
		fi
		sleep 0.1
	done
	[ -n "$st" ] || fail "the aggregator did not stop within $2 s"
}

"$build/tools/privfl" keygen --out "$dir/agg" >/dev/null
"$build/tools/privfl" keygen --out "$dir/c1" >/dev/null

# 1. DP off, all rounds done
port=$(free_port)
http="http://127.0.0.1:$(free_port)"
url="tcp://127.0.0.1:$port"
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--identity-dir "$dir/agg" --rounds 2 --clients-per-round 1 \
	--min-clients 1 --population 1 --overselect 1.0 \
	--selection-window-ms 300 --checkin-interval-ms 100 \
	--round-timeout-s 60 --http-listen "$http" --out-dir "$dir/out" \
	--log-level info >"$dir/agg.out" 2>"$dir/agg.log" &
agg=$!
pids+=($agg)
nm=$(status_field "$http" noise_multiplier $agg) || fail "/status unreachable"
[ "$nm" = null ] || fail "/status noise_multiplier $nm with DP off, expected null"
delta=$(status_field "$http" delta $agg) || fail "/status unreachable"
[ "$delta" = null ] || fail "/status delta $delta with DP off, expected null"
"$build/client/privfl-client" --server "$url" --identity-dir "$dir/c1" \
	--server-key "$dir/agg/identity.pub" --shard 0 --shards 12 \
	--backoff-min-ms 50 --backoff-max-ms 300 >"$dir/client.log" 2>&1 &
pids+=($!)
disown $! # killed at exit: no "Killed" notice
wait_exit $agg 120
[ "$st" = 0 ] || fail "exit status $st after all rounds, expected 0"
lines=$(grep -c "^privfl-aggregator: " "$dir/agg.out" || true)
[ "$lines" = 1 ] || fail "$lines summary lines on stdout, expected 1"
line=$(grep "^privfl-aggregator: " "$dir/agg.out")
last=$(grep -E ',ok(,|$)' "$dir/out/rounds.csv" | tail -n 1)
acc=$(printf '%.4f' "$(cut -d, -f2 <<<"$last")")
loss=$(printf '%.4f' "$(cut -d, -f3 <<<"$last")")
want="privfl-aggregator: all rounds done: 2 rounds released, 0 abandoned, in "
case $line in
"$want"[0-9]*" s: accuracy $acc, loss $loss; results in $dir/out/rounds.csv and $dir/out/model.safetensors") ;;
*) fail "summary line: '$line' (accuracy $acc, loss $loss in rounds.csv)" ;;
esac
[ -s "$dir/out/model.safetensors" ] || fail "no model.safetensors"

# 1b. resumed with one more round (the client is still retrying): the
# line counts all 3 rounds and the 1 of this run
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--identity-dir "$dir/agg" --rounds 3 --clients-per-round 1 \
	--min-clients 1 --population 1 --overselect 1.0 \
	--selection-window-ms 300 --checkin-interval-ms 100 \
	--round-timeout-s 60 --out-dir "$dir/out" \
	--log-level info >"$dir/agg1b.out" 2>"$dir/agg1b.log" &
agg=$!
pids+=($agg)
wait_exit $agg 120
[ "$st" = 0 ] || fail "exit status $st after resuming, expected 0"
line=$(cat "$dir/agg1b.out")
case $line in
"privfl-aggregator: all rounds done: 3 rounds released (1 in this run), 0 abandoned, in "*) ;;
*) fail "summary line after resuming: '$line'" ;;
esac

# 2. central DP, stopped by SIGTERM before any round
port=$(free_port)
http="http://127.0.0.1:$(free_port)"
"$build/aggregator/privfl-aggregator" --listen "tcp://127.0.0.1:$port" \
	--model logreg --identity-dir "$dir/agg" --rounds 2 \
	--dp-mode central --noise-multiplier 1.5 --clip-norm 1 --population 10 \
	--http-listen "$http" --out-dir "$dir/out2" --log-level info \
	>"$dir/agg2.out" 2>"$dir/agg2.log" &
agg=$!
pids+=($agg)
nm=$(status_field "$http" noise_multiplier $agg) || fail "/status unreachable"
[ "$nm" = 1.5 ] || fail "/status noise_multiplier $nm with central DP, expected 1.5"
kill -TERM $agg
wait_exit $agg 60
[ "$st" = 3 ] || fail "exit status $st after SIGTERM, expected 3"
line=$(cat "$dir/agg2.out")
case $line in
"privfl-aggregator: stopped by a signal: 0 rounds released, 0 abandoned, in "[0-9]*" s; results in $dir/out2/rounds.csv and $dir/out2/model.safetensors") ;;
*) fail "summary line after SIGTERM: '$line'" ;;
esac
echo "PASS: summary line (all rounds, resumed, signal); /status noise_multiplier null without DP"
