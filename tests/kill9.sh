#!/usr/bin/env bash
# Crash safety of the aggregator (issue #7): a tcp:// federation with three
# privfl-client daemons; the aggregator is killed with SIGKILL during
# training, during aggregation, while it publishes a round (checkpoint and
# audit line) and at random moments, and restarted each time with the same
# out_dir. The run must complete the configured rounds; the audit log must
# verify and hold every round exactly once; the newest checkpoint must be
# valid and hold every round. Then the newest checkpoint is corrupted: the
# aggregator must fall back to the previous one and redo the last round.
# Issue #14: it is also killed the moment a round's checkpoint lands (a new
# ckpt-N.bin appears), before the reporter wrote that round's rounds.csv
# row; every restart must show every released round in /status, and
# rounds.csv must hold exactly one "ok" row per released round (the audit
# log's rounds, in its order); a row cut short is removed at restart.
# usage: kill9.sh BUILD_DIR [ROUNDS]
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1
rounds=${2:-30}
dir=$(mktemp -d /tmp/privfl-kill9.XXXXXX)
pids=()
agg=
cleanup() {
	[ -n "$agg" ] && kill -9 "$agg" 2>/dev/null || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
hport=$(free_port)
url="tcp://127.0.0.1:$port"
http="http://127.0.0.1:$hport"
out="$dir/out"
privfl="$build/tools/privfl"
"$privfl" keygen --out "$dir/agg" >/dev/null
mkdir -p "$dir/enrolled"
for i in 1 2 3; do
	"$privfl" keygen --out "$dir/c$i" >/dev/null
	cp "$dir/c$i/identity.pub" "$dir/enrolled/c$i.pub"
done
starts=0
start_agg() { # ROUNDS
	starts=$((starts + 1))
	"$build/aggregator/privfl-aggregator" --listen "$url" --model "${PFL_KILL9_MODEL:-mlp:32,16}" \
		--rounds "$1" --clients-per-round 3 --min-clients 2 \
		--overselect 1.0 --selection-window-ms 600 \
		--checkin-interval-ms 100 --round-timeout-s 20 \
		--phase-timeout-s 10 --eval-every 1 --keep-checkpoints 3 \
		--identity-dir "$dir/agg" --enrolled-keys "$dir/enrolled" \
		--http-listen "$http" --out-dir "$out" --log-level info \
		>>"$dir/agg.log" 2>&1 &
	agg=$!
	echo "--- start $starts (pid $agg)" >>"$dir/agg.log"
}
fail() {
	echo "FAIL: $*"
	tail -n 60 "$dir/agg.log"
	exit 1
}
san_check() { # sanitizer reports of any aggregator run so far
	if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$dir/agg.log"; then
		fail "sanitizer report in the aggregator log"
	fi
}
start_agg "$rounds"
for i in 1 2 3; do
	"$build/client/privfl-client" --server "$url" --identity-dir "$dir/c$i" \
		--server-key "$dir/agg/identity.pub" --shard $((i - 1)) \
		--shards 12 --backoff-min-ms 50 --backoff-max-ms 400 \
		--log-level warn >"$dir/c$i.log" 2>&1 &
	pids+=($!)
done

# killer MODE: watch the aggregator (its /status and checkpoint directory)
# and SIGKILL it at the moment MODE describes; prints what it caught.
killer() {
	python3 - "$1" "$agg" "$http" "$out/checkpoints" "$rounds" <<'EOF'
import json, os, random, signal, sys, time, urllib.request
mode, pid, http, ckdir, total = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
def status():
    try:
        with urllib.request.urlopen(http + "/status", timeout=2) as r:
            return json.loads(r.read())
    except Exception:
        return None
def kill(what):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        # rounds are fast: it may have finished the run meanwhile
        what = "late: the aggregator finished before the kill (%s)" % what
    print(what)
    sys.exit(0)
def ckpts():
    try:
        return set(n for n in os.listdir(ckdir)
                   if n.startswith("ckpt-") and n.endswith(".bin"))
    except FileNotFoundError:
        return set()
def tmp_present():
    try:
        return any(".tmp." in n for n in os.listdir(ckdir))
    except FileNotFoundError:
        return False
base = None
deadline = time.time() + 60
while time.time() < deadline:
    s = status()
    if s is None:
        time.sleep(0.02)
        continue
    done = s["rounds_done"]
    if done >= total - 1:
        kill("late: killed at round %d (near the end)" % done)
    hist = sum(1 for r in s["history"] if not r["aborted"])
    if base is None:
        base = done - hist
    st = s["round"]["state"]
    if mode == "training" and st == "running" and done >= 1:
        time.sleep(random.uniform(0, 0.15))
        kill("training: killed while round %d was training" % s["round"]["number"])
    # "aggregating" spans the model update, evaluation, checkpoint and
    # audit line; the update itself runs under the lock /status takes.
    if mode == "aggregating" and st == "aggregating":
        time.sleep(random.uniform(0, 0.01))
        kill("aggregating: killed while round %d was being finished" % s["round"]["number"])
    if mode == "publishing":
        for _ in range(300):
            if tmp_present():
                kill("checkpoint: killed while a checkpoint file was being written")
        if done > base + hist and time.time() > deadline - 50:
            kill("publishing: killed after round %d was final, before it was published" % done)
    # "landed": SIGKILL as soon as a new checkpoint file is renamed into
    # place, i.e. while its round's row is being evaluated and written.
    if mode == "landed":
        seen = ckpts()
        while time.time() < deadline:
            new = ckpts() - seen
            if new:
                kill("landed: killed as %s appeared" % max(new))
    if mode == "random" and done >= 1:
        time.sleep(random.uniform(0, 1.5))
        kill("random: killed at a random moment after round %d" % done)
kill("timeout: %s not seen within 60 s; killed anyway" % mode)
EOF
}
wait_http() {
	for _ in $(seq 1 200); do
		curl -sf --max-time 2 "$http/status" >/dev/null 2>&1 && return 0
		kill -0 "$agg" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# After a restart: /status must list every round released before the kill
# (its history reloads from rounds.csv), once each and in order.
check_history() {
	local resumed
	resumed=$(sed -n 's/.*resumed from .*: \([0-9]*\) rounds done.*/\1/p' "$dir/agg.log")
	resumed=${resumed##*$'\n'}
	[ -n "$resumed" ] || return 0
	curl -sf --max-time 5 "$http/status" >"$dir/status.json" ||
		fail "no /status after restart $starts"
	python3 - "$dir/status.json" "$resumed" <<'EOF' || fail "/status history lost released rounds after restart $starts"
import json, sys
s = json.load(open(sys.argv[1]))
resumed = int(sys.argv[2])
ok = [r["round"] for r in s["history"] if not r["aborted"]]
if ok[:resumed] != list(range(1, resumed + 1)):
    print("history after resuming at round %d: %s" % (resumed, ok))
    sys.exit(1)
EOF
}
kills=0
landed=0
for mode in landed training landed aggregating landed publishing landed random training aggregating publishing; do
	wait_http || fail "aggregator did not come up (start $starts)"
	check_history
	what=$(killer "$mode")
	kills=$((kills + 1))
	echo "kill $kills: $what"
	case $what in landed:*) landed=$((landed + 1)) ;; esac
	wait "$agg" 2>/dev/null || true
	start_agg "$rounds"
	case $what in late:*) break ;; esac
done
[ $kills -ge 3 ] || fail "only $kills kills before the run ended"
[ $landed -ge 3 ] || fail "only $landed kills as a checkpoint landed"
status=0
for _ in $(seq 1 1800); do
	if ! kill -0 "$agg" 2>/dev/null; then
		wait "$agg" || status=$?
		break
	fi
	sleep 0.1
done
kill -0 "$agg" 2>/dev/null && fail "aggregator still running after 180 s"
agg=
[ $status -eq 0 ] || fail "aggregator exited with $status"

check_audit() { # EXPECTED_LINES
	"$privfl" audit verify "$out/audit.log" >"$dir/verify.txt" ||
		{ cat "$dir/verify.txt"; fail "privfl audit verify failed"; }
	cat "$dir/verify.txt"
	python3 - "$out/audit.log" "$rounds" "$1" <<'EOF' || fail "audit log rounds wrong"
import json, sys
path, total, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
got = [json.loads(l)["round"] for l in open(path)]
if len(got) != lines or sorted(set(got)) != list(range(1, total + 1)):
    print("audit rounds:", got)
    sys.exit(1)
EOF
}
# rounds.csv: one "ok" row per released round, the audit log's rounds in
# its order (no gap, no duplicate).
check_csv() {
	python3 - "$out/rounds.csv" "$out/audit.log" <<'EOF' || fail "rounds.csv does not match the audit log"
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "ok"]
got = [int(r["round"]) for r in rows]
want = [json.loads(l)["round"] for l in open(sys.argv[2])]
if got != want:
    print("rounds.csv ok rows:", got)
    print("audit log rounds:  ", want)
    sys.exit(1)
print("rounds.csv: %d released rounds, one row each" % len(got))
EOF
}
check_audit "$rounds"
check_csv
restored=$(grep -c "written again from the checkpoint" "$dir/agg.log" || true)
echo "note: $restored rounds.csv row(s) restored from checkpoints after $landed kills as a checkpoint landed"
stale=$(ls "$out/checkpoints" | grep -c '\.tmp\.' || true)
echo "note: $stale stale checkpoint temp file(s) left by the kills"
newest=$(ls "$out/checkpoints" | grep -E '^ckpt-[0-9]{8}\.bin$' | sort | tail -1)
[ "$newest" = "$(printf 'ckpt-%08d.bin' "$rounds")" ] ||
	fail "newest checkpoint is $newest, expected round $rounds"
san_check
# The newest checkpoint is valid: a restart resumes from it with nothing
# left to do. A row cut short (a kill in the middle of its write) is
# removed then.
printf '%s' "$rounds,0.5123" >>"$out/rounds.csv"
: >"$dir/agg.log"
start_agg "$rounds"
wait "$agg" || fail "restart on a finished run exited with an error"
agg=
grep -q "removed a row cut short" "$dir/agg.log" ||
	fail "the row cut short was not reported"
[ "$(tail -c 1 "$out/rounds.csv" | od -An -c | tr -d ' ')" = '\n' ] ||
	fail "rounds.csv still ends with a row cut short"
grep -q "resumed from .*$newest: $rounds rounds done" "$dir/agg.log" ||
	fail "restart did not resume from $newest"
san_check
echo "ok: restart resumes from $newest with $rounds rounds done"

# Corrupt the newest checkpoint: the aggregator must fall back to the one
# before and redo the last round.
python3 - "$out/checkpoints/$newest" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(bytes(b))
EOF
: >"$dir/agg.log"
start_agg "$rounds"
for _ in $(seq 1 1800); do
	kill -0 "$agg" 2>/dev/null || break
	sleep 0.1
done
wait "$agg" || fail "aggregator exited with an error after the corruption"
agg=
prev=$(printf 'ckpt-%08d.bin' $((rounds - 1)))
grep -q "checkpoint .*$newest is unusable" "$dir/agg.log" ||
	fail "the corrupt checkpoint was not reported"
grep -q "resumed from .*$prev: $((rounds - 1)) rounds done" "$dir/agg.log" ||
	fail "did not fall back to $prev"
san_check
echo "ok: corrupt $newest skipped, resumed from $prev, round $rounds redone"
# The redone round is a second, chained line for the same round number.
check_audit $((rounds + 1))
check_csv
grep -q "repeat an earlier round" "$dir/verify.txt" ||
	fail "verify did not report the re-run round"
echo "PASS: $rounds rounds through $kills kills; audit chain and checkpoints intact"
