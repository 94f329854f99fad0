#!/usr/bin/env bash
# The status page in a real browser: a simulation serves it, headless
# Chromium loads it (running its JS, which fetches /status and draws the
# plots as SVG), and the dumped DOM must hold one point per finished round
# in each plot (accuracy, loss, epsilon), for rounds 1..N with N >= 3.
# Needs Debian's chromium package (/usr/bin/chromium); fails without it.
# usage: browser_status.sh BUILD_DIR
set -euo pipefail
build=$1
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
	echo "FAIL: $chromium not found: install Debian's chromium package" \
		"(apt-get install chromium) to run the browser test"
	exit 1
fi
dir=$(mktemp -d /tmp/privfl-browser.XXXXXX)
sim=
cleanup() {
	[ -n "$sim" ] && kill -9 "$sim" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$build/sim/privfl-sim" --model logreg --clients 20 --per-round 5 \
	--rounds 400 --batch 32 --lr 0.05 --seed 1 --eval-every 1 \
	--http-listen "$url" --out "$dir/out" >"$dir/sim.log" 2>&1 &
sim=$!
disown "$sim"
rounds_done() {
	curl -sf --max-time 5 "$url/status" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["rounds_done"])' \
		2>/dev/null || echo 0
}
for _ in $(seq 1 400); do
	[ "$(rounds_done)" -ge 3 ] && break
	kill -0 "$sim" 2>/dev/null || { cat "$dir/sim.log"; echo "FAIL: simulation died"; exit 1; }
	sleep 0.3
done
[ "$(rounds_done)" -ge 3 ] || { echo "FAIL: fewer than 3 rounds in 120 s"; exit 1; }
# --virtual-time-budget lets the page's fetch and timers run before the
# DOM is dumped.
timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
	--no-first-run --disable-background-networking --disable-component-update \
	--disable-sync --disable-dev-shm-usage --user-data-dir="$dir/profile" \
	--virtual-time-budget=8000 --dump-dom "$url/" >"$dir/dom.html" \
	2>"$dir/chromium.log" || {
	cat "$dir/chromium.log"
	echo "FAIL: chromium exited with an error"
	exit 1
}
after=$(rounds_done)
python3 - "$dir/dom.html" "$after" <<'EOF'
import sys
from html.parser import HTMLParser

path, after = sys.argv[1], int(sys.argv[2])

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.plot = None
        self.points = {}
        self.body_rounds = None
        self.err = ""
        self.in_err = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body_rounds = a.get("data-rounds")
        if tag == "svg" and a.get("id", "").startswith("plot-"):
            self.plot = a["id"]
            self.points[self.plot] = []
        if tag == "circle" and "pt" in a.get("class", "").split() and self.plot:
            self.points[self.plot].append(int(a["data-round"]))
        self.in_err = tag == "div" and a.get("id") == "err"
    def handle_endtag(self, tag):
        if tag == "svg":
            self.plot = None
    def handle_data(self, data):
        if self.in_err:
            self.err += data

d = Dom()
d.feed(open(path).read())
def fail(msg):
    print("FAIL:", msg)
    print(open(path).read()[:3000])
    sys.exit(1)
if d.err.strip():
    fail("the page reports an error: " + d.err.strip())
if d.body_rounds is None:
    fail("the page never drew /status (no data-rounds on <body>)")
n = int(d.body_rounds)
if n < 3 or n > after:
    fail("the page shows %d rounds; the aggregator had done %d" % (n, after))
for plot in ("plot-accuracy", "plot-loss", "plot-epsilon"):
    pts = d.points.get(plot)
    if pts is None:
        fail("no %s in the DOM" % plot)
    if sorted(pts) != list(range(1, n + 1)):
        fail("%s has points for rounds %s, expected 1..%d" % (plot, sorted(pts), n))
print("PASS: the status page plots %d rounds in each of %d plots (aggregator at %d)"
      % (n, len(d.points), after))
EOF
