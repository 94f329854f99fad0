#!/usr/bin/env bash
# Many connections to one aggregator (issue #12, item 3): a real
# privfl-aggregator process on loopback tcp://, and bench_conns holding N
# client connections (one identity and one TCP connection each) that keep
# checking in for ROUNDS rounds with a cohort of COHORT (logreg, plain
# aggregation). Prints the rounds completed, the aggregator's peak
# resident memory and its peak of open descriptors (sampled from /proc
# every 0.2 s), and the clients' idle check-in latency p50/p99.
#   bench/conns.sh BUILD_DIR [N] [COHORT] [ROUNDS]
# Defaults: 10000 connections, cohort 1000, 3 rounds. PFL_BENCH_SMOKE=1:
# 40 connections, cohort 10, 1 round.
# There is no same-run baseline to divide by (the figures are absolute:
# memory, descriptors, latency), so no line here prints a ratio.
set -uo pipefail
build=${1:?usage: bench/conns.sh BUILD_DIR [N] [COHORT] [ROUNDS]}
if [ "${PFL_BENCH_SMOKE:-0}" = 1 ]; then
	n=40 cohort=10 rounds=1
else
	n=${2:-10000} cohort=${3:-1000} rounds=${4:-3}
fi
agg=$build/aggregator/privfl-aggregator
gen=$build/bench/bench_conns
privfl=$build/tools/privfl
for x in "$agg" "$gen" "$privfl"; do
	[ -x "$x" ] || { echo "conns: $x missing" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pfl-conns.XXXXXX")
apid= gpid=
cleanup() {
	for p in $gpid $apid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
"$privfl" keygen --out "$tmp/agg" > /dev/null || exit 1
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=tcp://127.0.0.1:$port
min=$((cohort * 9 / 10))
[ "$min" -ge 1 ] || min=1
"$agg" --listen "$url" --identity-dir "$tmp/agg" --out-dir "$tmp/out" \
	--model logreg --test-data none --rounds "$rounds" \
	--clients-per-round "$cohort" --min-clients "$min" --overselect 1.1 \
	--max-connections $((n + 100)) --workers 8 --checkin-interval-ms 2000 \
	--selection-window-ms 3000 --round-timeout-s 300 --log-level warn \
	> "$tmp/agg.log" 2>&1 &
apid=$!
sleep 0.5
"$gen" "$url" "$tmp/agg/identity.pub" "$n" 8 > "$tmp/gen.out" 2> "$tmp/gen.log" &
gpid=$!
peak_fd=0 peak_kb=0 t0=$(date +%s)
while kill -0 "$apid" 2>/dev/null; do
	fds=$(ls /proc/$apid/fd 2>/dev/null | wc -l)
	[ "$fds" -gt "$peak_fd" ] && peak_fd=$fds
	kb=$(awk '/^VmHWM:/ { print $2 }' /proc/$apid/status 2>/dev/null)
	[ -n "$kb" ] && peak_kb=$kb
	if ! kill -0 "$gpid" 2>/dev/null; then
		echo "conns: the load generator stopped:" >&2
		cat "$tmp/gen.log" >&2
		exit 1
	fi
	if [ $(($(date +%s) - t0)) -gt 1800 ]; then
		echo "conns: no end after 30 minutes" >&2
		tail -5 "$tmp/agg.log" >&2
		exit 1
	fi
	sleep 0.2
done
wait "$apid"
arc=$?
kill -INT "$gpid" 2>/dev/null
wait "$gpid"
secs=$(($(date +%s) - t0))
done_rounds=$(($(wc -l < "$tmp/out/rounds.csv" 2>/dev/null || echo 1) - 1))
cat "$tmp/gen.out"
echo "conns aggregator connections=$n cohort=$cohort rounds=$done_rounds/$rounds" \
	"seconds=$secs peak_rss_MB=$((peak_kb / 1024)) peak_fds=$peak_fd exit=$arc"
grep -E " (warn|error) " "$tmp/agg.log" | cut -d" " -f2- | sort | uniq -c | sort -rn | head -5
[ "$arc" = 0 ] && [ "$done_rounds" = "$rounds" ]
