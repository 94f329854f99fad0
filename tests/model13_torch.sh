#!/usr/bin/env bash
# A PyTorch model that is none of the built-in three (a small CNN with
# batch norm) federated by one privfl-aggregator (--model custom) and three
# Python clients (the privfl package over libprivfl.so.0) with SecAgg+,
# on 3 x 600 Fashion-MNIST images, 5 rounds of 1 local epoch; compared
# with the same network trained centrally on the same 1800 images for 5
# epochs. Runs docs/PYTHON.md's program and commands as written there (only
# the port is changed), then checks the released file: the init file's
# names, dtypes and shapes, num_batches_tracked carried unchanged, and
# load_state_dict(strict=True).
# usage: model13_torch.sh SOURCE_DIR BUILD_DIR
#
# Sanitizer builds: an ASan-built libprivfl.so needs the ASan runtime
# loaded first into Python: tests/model13.cmake sets PFL_PY_PRELOAD to
# libasan.so there, and every python3 here (the doc's commands too) runs
# with it preloaded and Python's own leaks not reported (about 60 s in all
# instead of 25 on an idle 2-core machine). The privfl programs are
# ASan-built themselves and run without the preload.
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
src=$1
build=$2
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
	echo "FAIL: $py lacks torch or numpy (Debian python3-torch, python3-numpy; make deps)" >&2
	exit 1
fi
dir=$(mktemp -d /tmp/privfl-m13torch.XXXXXX)
cleanup() {
	jobs -p | xargs -r kill -9 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do
		[ -e "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}
cd "$dir"
mkdir bin
ln -s "$build/tools/privfl" bin/privfl
ln -s "$build/aggregator/privfl-aggregator" bin/privfl-aggregator
if [ -n "${PFL_PY_PRELOAD:-}" ]; then
	printf '#!/bin/sh\nLD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 exec %s "$@"\n' \
		"$PFL_PY_PRELOAD" "$py" > bin/python3
	chmod +x bin/python3
	py=$dir/bin/python3
else
	ln -s "$py" bin/python3
fi
export PATH="$dir/bin:$PATH"
export PYTHONPATH="$build/python"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the doc's blocks: 1st python = fmnist_client.py, 1st sh = the commands,
# 2nd python = loading the result back
awk '/^```python/ { n++; inb = (n == 1); next } /^```/ { inb = 0 } inb' \
	"$src/docs/PYTHON.md" | sed "s/7700/$port/" > fmnist_client.py
awk '/^```sh/ { n++; inb = (n == 1); next } /^```/ { inb = 0 } inb' \
	"$src/docs/PYTHON.md" | sed "s/7700/$port/" > commands.sh
awk '/^```python/ { n++; inb = (n == 2); next } /^```/ { inb = 0 } inb' \
	"$src/docs/PYTHON.md" > load_back.py
grep -q "class Net" fmnist_client.py || fail "no program in PYTHON.md"
grep -q "privfl-aggregator" commands.sh || fail "no commands in PYTHON.md"
grep -q "strict=True" load_back.py || fail "no load-back in PYTHON.md"

start=$(date +%s)
# the doc's commands, with the aggregator's and clients' output in logs
sed -e 's|^\(privfl-aggregator .*\) &$|\1 > agg.log 2>\&1 \&|' \
	-e 's|python3 fmnist_client.py \$k &|python3 fmnist_client.py $k > client$k.log 2>\&1 \&|' \
	commands.sh > run.sh
grep -q "agg.log" run.sh && grep -q 'client$k.log' run.sh || fail "rewriting the commands"
timeout 600 bash -e run.sh > run.log 2>&1 || fail "the doc's commands: exit $?"
echo "federation: $(( $(date +%s) - start )) s"

# what the aggregator says it federates, as PYTHON.md shows it
want=$(awk '/^The aggregator says what it federates/ { f = 1 } f && /^model custom/ { print; exit }' "$src/docs/PYTHON.md")
[ -n "$want" ] || fail "no aggregator line in PYTHON.md"
grep -qF "$want" agg.log || fail "aggregator did not say: $want"
released=$("$py" -c 'import csv, sys; print(sum(r["status"] == "ok" for r in csv.DictReader(open(sys.argv[1]))))' out/rounds.csv)
[ "$released" = 5 ] || fail "5 rounds released, not $released"
# federated evaluation from the Python evaluate(): 3 x 200 held-out images
# a round, and the last round's global model scores well above chance
"$py" - out/rounds.csv <<'PY' > fedeval.txt || fail "federated evaluation: $(cat fedeval.txt)"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "ok"]
n = [float(r["fed_eval_examples"]) for r in rows]
acc = [float(r["fed_eval_accuracy"]) for r in rows]
print("fed_eval_examples", n, "fed_eval_accuracy", acc)
assert all(abs(x - 600) < 1 for x in n), n
assert acc[-1] > 0.6 and acc[-1] > acc[0], acc
PY
cat fedeval.txt
for k in 0 1 2; do
	grep -q "stopping after 5 updates (5 rounds released" client$k.log ||
		fail "client$k did not deliver 5 updates"
done
"$py" load_back.py || fail "PYTHON.md's load-back"

# the released file: the init file's layout; carried tensors unchanged;
# federated accuracy against central training (same data, epochs, init)
"$py" - <<'PY' > result.txt || fail "comparison"
import sys
import numpy as np
import torch
import privfl.safetensors as st
from fmnist_client import Net, fashion_mnist, train_epochs

init, _ = st.load("init.safetensors")
out, meta = st.load("out/model.safetensors")
assert sorted(init) == sorted(out), (sorted(init), sorted(out))
for k in init:
    assert init[k].dtype == out[k].dtype and init[k].shape == out[k].shape, k
for k in ("bn1.num_batches_tracked", "bn2.num_batches_tracked"):
    assert out[k].dtype == np.int64 and out[k] == init[k], k
assert not np.array_equal(out["fc.weight"], init["fc.weight"])
assert not np.array_equal(out["bn1.running_mean"], init["bn1.running_mean"])
assert meta["privfl.model"] == "custom" and meta["round"] == "5", meta

torch.set_num_threads(2)
xt, yt = fashion_mnist("t10k", 0, 2000)
def accuracy(weights):
    m = Net()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()},
                      strict=True)
    m.eval()
    with torch.no_grad():
        return (m(xt).argmax(1) == yt).float().mean().item()
fed = accuracy(out)
torch.manual_seed(0)
central = Net()
central.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
x, y = fashion_mnist("train", 0, 1800)
train_epochs(central, x, y, epochs=5)
cen = accuracy({k: v.numpy() for k, v in central.state_dict().items()})
print("%.4f %.4f %.4f" % (fed, cen, accuracy(init)))
PY
read -r fed cen untrained < result.txt
echo "small CNN with batch norm, Fashion-MNIST, 3 Python clients x 600" \
	"images, SecAgg+, 5 rounds x 1 epoch: federated accuracy $fed," \
	"central (same 1800 images, 5 epochs) $cen, untrained $untrained" \
	"(2000 test images)"
"$py" -c "import sys; f, c = $fed, $cen; sys.exit(0 if f >= 0.70 and f >= c - 0.10 else 1)" ||
	fail "federated accuracy $fed: below 0.70 or more than 0.10 under central $cen"
