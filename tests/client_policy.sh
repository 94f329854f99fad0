#!/usr/bin/env bash
# The daemon side of "the client decides what it shares" (issue #11):
# 1. privfl-client --help lists the policy settings;
# 2. it refuses to start when the aggregator is not pinned (no server_key,
#    no TLS CA), and starts with insecure = true, loudly;
# 3. the policy example of docs/CLIENT.md (the first ```conf block), run
#    against a real privfl-aggregator whose plan has no DP: the client
#    refuses the plan with one log line naming the rule and sends nothing.
# usage: client_policy.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
client="$build/client/privfl-client"
dir=$(mktemp -d /tmp/privfl-policy.XXXXXX)
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

# 1. --help
"$client" --help >"$dir/help.txt"
for k in insecure min_dp_mode min_noise_multiplier max_clip_norm \
	require_secure_aggregation min_aggregate_clients max_participations \
	participation_window; do
	grep -q -- "--${k//_/-}\|$k" "$dir/help.txt" || fail "--help lacks $k"
done

# 2. no pinning, no start (exit 1 at once rather than run with real data)
rc=0
timeout 10 "$client" --server tcp://127.0.0.1:9 --shard 0 --shards 12 \
	>"$dir/unpinned.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unpinned client: exit $rc, expected 1"
grep -q "refusing to start: the aggregator is not pinned" "$dir/unpinned.log" ||
	fail "unpinned client: no refusal message"
rc=0
timeout 10 "$client" --server tcp://127.0.0.1:9 --insecure true \
	--data /nonexistent >"$dir/insecure.log" 2>&1 || rc=$?
grep -q "error INSECURE: no server_key and no TLS CA" "$dir/insecure.log" ||
	fail "insecure client: not logged as an error"
grep -q "data /nonexistent" "$dir/insecure.log" ||
	fail "insecure client did not get past the pinning check"
rm -f "$dir/unpinned.log" "$dir/insecure.log"

# 3. the documented policy against a federation without DP
cd "$dir"
awk '/^```conf[ \t]*$/ { inb = 1; next } /^```/ && inb { exit } inb' \
	"$src/docs/CLIENT.md" >policy.conf
grep -q "^min_dp_mode" policy.conf || fail "no \`\`\`conf block in CLIENT.md"
"$build/tools/privfl" keygen --out keys/aggregator >/dev/null
"$build/tools/privfl" keygen --out keys/client1 >/dev/null
mkdir keys/enrolled
cp keys/client1/identity.pub keys/enrolled/client1.pub
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="tcp://127.0.0.1:$port"
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--federation-id quickstart --identity-dir keys/aggregator \
	--enrolled-keys keys/enrolled --rounds 1 --clients-per-round 1 \
	--min-clients 1 --overselect 1.0 --selection-window-ms 300 \
	--checkin-interval-ms 100 --round-timeout-s 60 --out-dir out \
	--log-level info >"$dir/agg.log" 2>&1 &
pids+=($!)
"$client" --config policy.conf --server "$url" --shard 0 --shards 12 \
	--backoff-min-ms 50 --backoff-max-ms 300 >"$dir/client.log" 2>&1 &
pids+=($!)
want="round 1: plan refused: min_dp_mode is distributed, the plan has none"
for _ in $(seq 1 300); do
	grep -q "$want" "$dir/client.log" && break
	sleep 0.1
done
grep -q "$want" "$dir/client.log" || fail "no refusal in the client log"
sleep 2 # it would have trained and sent by now
if grep -q "update delivered" "$dir/client.log"; then
	fail "the client delivered an update"
fi
[ "$(grep -c "plan refused" "$dir/client.log")" = 1 ] ||
	fail "the refusal was logged more than once"
echo "ok: help, pinning, and the CLIENT.md policy refusing a plan without DP"
