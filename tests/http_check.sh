#!/usr/bin/env bash
# The aggregator's HTTP side on a running simulation: /metrics must parse
# under a strict Prometheus text-format (0.0.4) line grammar and carry the
# issue #7 metrics; /status must be valid JSON whose history matches the
# rounds done; / must be the self-contained page; anything else is 404.
# usage: http_check.sh BUILD_DIR
set -euo pipefail
build=$1
dir=$(mktemp -d /tmp/privfl-http.XXXXXX)
sim=
cleanup() {
	[ -n "$sim" ] && kill -9 "$sim" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$build/sim/privfl-sim" --model logreg --clients 20 --per-round 5 \
	--rounds 200 --batch 32 --lr 0.05 --seed 1 --eval-every 1 \
	--http-listen "$base" --out "$dir/out" --log-level info \
	>"$dir/sim.log" 2>&1 &
sim=$!
disown "$sim"

python3 - "$base" "$dir/sim.log" <<'EOF'
import json, re, sys, time, urllib.request, urllib.error

base, log = sys.argv[1], sys.argv[2]

def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()

def fail(msg):
    print("FAIL:", msg)
    print(open(log).read()[-3000:])
    sys.exit(1)

# wait until three rounds are done and two of them are in the history
# (the history may lag rounds_done by up to three rounds: see below)
deadline = time.time() + 120
st = None
while time.time() < deadline:
    try:
        _, _, body = get("/status")
    except (urllib.error.URLError, ConnectionError, OSError):
        time.sleep(0.3)
        continue
    try:
        st = json.loads(body)
    except ValueError as e:
        fail("/status is not JSON (%s): %s" % (e, body[:2000]))
    if st["rounds_done"] >= 3 and sum(
            1 for r in st["history"] if not r["aborted"]) >= 2:
        break
    time.sleep(0.3)
else:
    fail("the simulation did not finish 3 rounds (2 in the history) "
         "within 120 s")

# ---- /metrics: strict line grammar ----
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)"
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*,?)?\})? (%s)(?: -?[0-9]+)?$" % (NAME, LABEL, LABEL, VALUE))
HELP = re.compile(r"^# HELP (%s) (?:[^\\\n]|\\[\\n])*$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
code, ctype, text = get("/metrics")
if code != 200 or not ctype.startswith("text/plain; version=0.0.4"):
    fail("/metrics: %s %s" % (code, ctype))
if not text.endswith("\n"):
    fail("/metrics does not end with a newline")
types, helps, values = {}, set(), {}
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("#"):
        m = HELP.match(line)
        if m:
            if m.group(1) in helps:
                fail("line %d: second HELP for %s" % (n, m.group(1)))
            helps.add(m.group(1))
            continue
        m = TYPE.match(line)
        if m:
            if m.group(1) in types or m.group(1) in values:
                fail("line %d: TYPE repeated or after samples" % n)
            types[m.group(1)] = m.group(2)
            continue
        fail("line %d: bad comment line: %r" % (n, line))
    m = SAMPLE.match(line)
    if not m:
        fail("line %d does not match the sample grammar: %r" % (n, line))
    name = m.group(1)
    if name not in types:
        fail("line %d: %s has no TYPE line before it" % (n, name))
    if types[name] == "counter" and not name.endswith("_total"):
        fail("counter %s does not end in _total" % name)
    values[name + (m.group(2) or "")] = float(m.group(3))
want = ["privfl_rounds_completed_total", "privfl_checkins_total",
        "privfl_last_round_selected_clients", "privfl_last_round_survived_clients",
        "privfl_received_bytes_total", "privfl_sent_bytes_total",
        "privfl_last_round_duration_seconds", "privfl_epsilon",
        "privfl_accuracy", "privfl_loss"]
for w in want:
    if w not in values:
        fail("/metrics lacks %s" % w)
    if w not in helps:
        fail("/metrics has no HELP for %s" % w)
if values["privfl_rounds_completed_total"] < 3:
    fail("rounds completed %g < 3" % values["privfl_rounds_completed_total"])
if not (0 < values["privfl_accuracy"] <= 1):
    fail("accuracy %g is not in (0, 1]" % values["privfl_accuracy"])
if values["privfl_checkins_total"] < 1 or values["privfl_received_bytes_total"] < 1:
    fail("check-ins or bytes not counted")
if values["privfl_last_round_survived_clients"] < 1:
    fail("no surviving clients in the last round")
if sum(v for k, v in values.items() if k.startswith("privfl_round_state{")) != 1:
    fail("privfl_round_state is not one-hot")

# ---- /status: JSON with consistent history ----
code, ctype, body = get("/status")
if code != 200 or not ctype.startswith("application/json"):
    fail("/status: %s %s" % (code, ctype))
try:
    st = json.loads(body)
except ValueError as e:
    fail("/status is not JSON (%s): %s" % (e, body[:2000]))
for k in ("federation", "model", "num_params", "config", "rounds_done",
          "round", "history", "epsilon", "checkins", "audit"):
    if k not in st:
        fail("/status lacks %r" % k)
h = st["history"]
# rounds_done counts a round once its model is released; its history entry
# follows once the reporter thread has evaluated it (aggregator/src/
# report.c: at most two released models wait, one more may be in between),
# so the history may lag by up to three rounds, never lead
lag = st["rounds_done"] - (len(h) - st["rounds_aborted"])
if lag < 0 or lag > 3:
    fail("history has %d rounds, status says %d done" % (len(h), st["rounds_done"]))
ok = [r["round"] for r in h if not r["aborted"]]
if ok != list(range(1, len(ok) + 1)):
    fail("history rounds are not 1..n: %s" % ok)
if st["config"]["rounds"] != 200 or st["round"]["state"] not in (
        "idle", "selecting", "running", "aggregating"):
    fail("config or round state wrong: %s" % st["config"])
if st["audit"]["last_round"] < st["rounds_done"] - 1 or len(st["audit"]["head"]) != 64:
    fail("audit head not reported: %s" % st["audit"])
# rounds 1..2 were in the history before (the wait above)
since = json.loads(get("/status?since=1")[2])["history"]
if not since or since[0]["round"] != 2:
    fail("/status?since=1 starts at %s" % (since[0]["round"] if since else None))

# ---- / and 404 ----
code, ctype, page = get("/")
if code != 200 or not ctype.startswith("text/html") or "plot-accuracy" not in page:
    fail("/ is not the status page")
if re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', page):
    fail("the status page loads an external asset")
try:
    get("/nope")
    fail("/nope did not give 404")
except urllib.error.HTTPError as e:
    if e.code != 404:
        fail("/nope gave %d" % e.code)
print("PASS: /metrics (%d samples) and /status (%d rounds) at %d rounds" %
      (len(values), len(h), st["rounds_done"]))
EOF
