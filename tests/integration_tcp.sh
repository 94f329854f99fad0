#!/usr/bin/env bash
# A real federation over tcp:// on loopback: one privfl-aggregator process
# and privfl-client daemon processes, as a user would start them from
# docs/QUICKSTART.md. With "kill", one client is killed (SIGKILL) after the
# first round; the federation must still complete every round.
set -euo pipefail
build=$1
mode=${2:-plain}
extra=()
cextra=() # the clients' privacy policy: what the plan must at least give
case $mode in
secagg | killsa)
	extra=(--secure-aggregation secagg+ --clip-norm 5)
	cextra=(--require-secure-aggregation secagg+ --max-clip-norm 5
		--min-aggregate-clients 2)
	;;
esac
dir=$(mktemp -d /tmp/privfl-it.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="tcp://127.0.0.1:$port"
"$build/tools/privfl" keygen --out "$dir/agg" >/dev/null
nclients=3
case $mode in kill | killsa) nclients=5 ;; esac
mkdir -p "$dir/enrolled"
for i in $(seq 1 $nclients); do
	"$build/tools/privfl" keygen --out "$dir/c$i" >/dev/null
	cp "$dir/c$i/identity.pub" "$dir/enrolled/c$i.pub"
done
"$build/aggregator/privfl-aggregator" --listen "$url" --model logreg \
	--rounds 3 --clients-per-round 3 --min-clients 3 --overselect 1.0 \
	--selection-window-ms 800 --checkin-interval-ms 100 --round-timeout-s 20 \
	--phase-timeout-s 10 \
	--identity-dir "$dir/agg" --enrolled-keys "$dir/enrolled" \
	--out-dir "$dir/out" --log-level info "${extra[@]}" >"$dir/agg.log" 2>&1 &
agg=$!
pids+=($agg)
for i in $(seq 1 $nclients); do
	"$build/client/privfl-client" --server "$url" --identity-dir "$dir/c$i" \
		--server-key "$dir/agg/identity.pub" --shard $((i - 1)) \
		--shards 12 --backoff-min-ms 50 --backoff-max-ms 500 \
		--log-level warn "${cextra[@]}" >"$dir/c$i.log" 2>&1 &
	pids+=($!)
done
if [ "$mode" = kill ] || [ "$mode" = killsa ]; then
	for _ in $(seq 1 300); do
		[ -f "$dir/out/rounds.csv" ] && [ "$(grep -c ',ok' "$dir/out/rounds.csv" || true)" -ge 1 ] && break
		sleep 0.1
	done
	kill -9 "${pids[1]}"
	echo "killed one client after round 1"
fi
status=0
for _ in $(seq 1 1200); do
	if ! kill -0 $agg 2>/dev/null; then
		wait $agg || status=$?
		break
	fi
	sleep 0.1
done
cat "$dir/agg.log"
if kill -0 $agg 2>/dev/null; then
	echo "FAIL: aggregator still running after 120 s"
	exit 1
fi
[ $status -eq 0 ] || { echo "FAIL: aggregator exited with $status"; exit 1; }
ok=$(grep -c ',ok' "$dir/out/rounds.csv" || true)
[ "$ok" -eq 3 ] || { echo "FAIL: $ok rounds completed, expected 3"; cat "$dir/out/rounds.csv"; exit 1; }
[ -s "$dir/out/model.safetensors" ] || { echo "FAIL: no model"; exit 1; }
# The clients are daemons: with the aggregator gone they keep trying, each
# request waiting for a reply that cannot come (request_timeout_ms, 60 s by
# default). SIGTERM must still stop one promptly, and cleanly.
if [ "$mode" = plain ]; then
	sleep 2
	victim=${pids[1]}
	kill -TERM "$victim"
	for _ in $(seq 1 100); do
		kill -0 "$victim" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$victim" 2>/dev/null; then
		echo "FAIL: a client ignored SIGTERM for 5 s with its aggregator gone"
		exit 1
	fi
	cstatus=0
	wait "$victim" || cstatus=$?
	[ $cstatus -eq 0 ] || { echo "FAIL: client exited with $cstatus after SIGTERM"; exit 1; }
	echo "a client stopped on SIGTERM with its aggregator gone"
fi
echo "PASS: 3 rounds over $url ($mode)"
