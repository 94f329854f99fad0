#!/usr/bin/env bash
# SecAgg+ with enrollment certificates, end to end over tcp:// (issue #11,
# item 12): the operator's authority certifies every client key, the
# aggregator relays the certificates (sa_enroll_certs), every client checks
# its neighbours' (sa_authority_key). "good": 3 rounds complete. "wrong":
# the clients trust another authority, so they refuse every neighbour and
# no round completes.
set -euo pipefail
build=$1
mode=${2:-good}
p="$build/tools/privfl"
dir=$(mktemp -d /tmp/privfl-enr.XXXXXX)
pids=()
cleanup() {
	for q in "${pids[@]}"; do kill -9 "$q" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="tcp://127.0.0.1:$port"
"$p" keygen --out "$dir/agg" >/dev/null
"$p" enroll-authority --out "$dir/ca" >/dev/null
"$p" enroll-authority --out "$dir/other" >/dev/null
mkdir -p "$dir/enrolled" "$dir/certs"
for i in 1 2 3 4; do
	"$p" keygen --out "$dir/c$i" >/dev/null
	cp "$dir/c$i/identity.pub" "$dir/enrolled/c$i.pub"
	"$p" enroll --authority "$dir/ca" --client-key "$dir/c$i" \
		--federation default --out "$dir/certs/c$i.cert" >/dev/null
done
auth="$dir/ca/identity.pub"
[ "$mode" = wrong ] && auth="$dir/other/identity.pub"
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--rounds 3 --clients-per-round 4 --min-clients 3 --overselect 1.0 \
	--selection-window-ms 800 --checkin-interval-ms 100 --round-timeout-s 10 \
	--phase-timeout-s 4 --identity-dir "$dir/agg" \
	--enrolled-keys "$dir/enrolled" --sa-enroll-certs "$dir/certs" \
	--secure-aggregation secagg+ --clip-norm 5 \
	--out-dir "$dir/out" --log-level info >"$dir/agg.log" 2>&1 &
agg=$!
pids+=($agg)
for i in 1 2 3 4; do
	"$build/client/privfl-client" --server "$url" --identity-dir "$dir/c$i" \
		--server-key "$dir/agg/identity.pub" --sa-authority-key "$auth" \
		--shard $((i - 1)) --shards 12 --backoff-min-ms 50 \
		--backoff-max-ms 500 --log-level warn >"$dir/c$i.log" 2>&1 &
	pids+=($!)
done
limit=1200
[ "$mode" = wrong ] && limit=250
for _ in $(seq 1 $limit); do
	kill -0 $agg 2>/dev/null || break
	sleep 0.1
done
ok=$(grep -c ',ok' "$dir/out/rounds.csv" 2>/dev/null || true)
if [ "$mode" = good ]; then
	[ "$ok" -eq 3 ] || { echo "FAIL: $ok rounds, expected 3"; cat "$dir/agg.log" "$dir"/c*.log; exit 1; }
	echo "PASS: 3 SecAgg+ rounds with enrollment certificates"
else
	[ "${ok:-0}" -eq 0 ] || { echo "FAIL: $ok rounds completed with an untrusted authority"; exit 1; }
	grep -q 'secagg' "$dir"/c*.log || { echo "FAIL: no client refused"; cat "$dir"/c*.log; exit 1; }
	echo "PASS: clients refused neighbours certified by another authority"
fi
