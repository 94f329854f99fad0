"""Python training functions that fail (issue #13 item 2, "Bad input"):
one raises, one returns NaN, one returns a tensor of the wrong shape, one
an unknown tensor. The client withdraws from that round with the reason
(the aggregator logs it and closes the slot at once: rounds do not wait
for their deadline) and takes part in the next rounds. And a client whose
init_model has another layout refuses the plan before fetching the model.
NumPy only, so that it also runs in sanitizer builds (libasan preloaded,
tests/model13.cmake).
usage: model13_badtrain.py SOURCE_DIR BUILD_DIR"""

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

src, build = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(build, "python"))
import numpy as np  # noqa: E402
import privfl  # noqa: E402
import privfl.safetensors as st  # noqa: E402

PRIVFL = os.path.join(build, "tools", "privfl")
AGG = os.path.join(build, "aggregator", "privfl-aggregator")
ROUND_TIMEOUT_S = 300  # a round that waited for it would fail the test
ROUNDS = 12
PHASE_TIMEOUT_S = 100  # likewise, for each secure-aggregation phase
GOOD = ("good0", "good1", "good2")
BAD = ("raise", "nan", "shape", "extra")


def fail(msg, logs=()):
    for f in logs:
        if os.path.exists(f):
            print("---", f, file=sys.stderr)
            print(open(f).read()[-3000:], file=sys.stderr)
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CLIENT = r'''
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import privfl
me, port, init, maxr = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
calls = [0]

def train(w, rnd):
    calls[0] += 1
    new = {k: v + np.float32(0.01) for k, v in w.items() if k != "n"}
    if calls[0] == 1:  # each bad client fails its first round its way
        if me == "raise":
            raise ValueError("no data today")
        if me == "nan":
            new["a.weight"][0, 0] = np.nan
        if me == "shape":
            new["a.weight"] = np.zeros((3, 4), np.float32)
        if me == "extra":
            new["c.extra"] = np.zeros(2, np.float32)
    return new, 10

privfl.run_client(server="tcp://127.0.0.1:" + port,
                  server_key="keys/aggregator/identity.pub",
                  identity_dir="keys/" + me, init_model=init,
                  train=train, max_rounds=maxr, backoff_min_ms=50,
                  backoff_max_ms=500, log_level="debug")
'''


def main():
    tmp = tempfile.mkdtemp(prefix="privfl-m13bad.")
    os.chdir(tmp)
    open("client.py", "w").write(CLIENT)
    st.save({"a.weight": np.arange(12, dtype=np.float32).reshape(4, 3) / 10,
             "b.weight": np.ones(2, np.float16),
             "n": np.array(5, np.int64)}, "init.safetensors")
    st.save({"a.weight": np.zeros((4, 4), np.float32),
             "b.weight": np.ones(2, np.float16),
             "n": np.array(5, np.int64)}, "other.safetensors")
    subprocess.run([PRIVFL, "keygen", "--out", "keys/aggregator"],
                   check=True, stdout=subprocess.DEVNULL)
    os.makedirs("keys/enrolled")
    for k in GOOD + BAD + ("other",):
        subprocess.run([PRIVFL, "keygen", "--out", "keys/" + k], check=True,
                       stdout=subprocess.DEVNULL)
        os.link("keys/%s/identity.pub" % k, "keys/enrolled/%s.pub" % k)
    check_api()
    check_aggregator_refusals()
    procs = []
    try:
        run_interrupt(procs)
        run_bad(procs)
        run_other(procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    os.chdir("/")
    shutil.rmtree(tmp)  # kept when the test fails, for its logs
    print("ok")


def check_api():
    """Settings by name are checked by the C table; misuse is refused
    before anything connects."""
    def train(w, r):
        return w, 1
    base = dict(server="tcp://127.0.0.1:1", server_key="keys/good0/"
                "identity.pub", identity_dir="keys/good0",
                init_model="init.safetensors", train=train, max_rounds=1)
    for extra, exc, words in (
            ({"bogus_setting": 1}, privfl.PrivflError, "bogus_setting"),
            ({"request_timeout_ms": 5}, privfl.PrivflError,
             "request_timeout_ms"),
            ({"data": "x.csv"}, privfl.PrivflError, "not a setting here"),
            ({"init_model": "missing.safetensors"}, privfl.PrivflError,
             "missing.safetensors"),
            ({"evaluate": 3}, TypeError, "evaluate must be fn")):
        try:
            privfl.run_client(**dict(base, **extra))
        except exc as e:
            if words not in str(e):
                fail("%s: %r does not name %r" % (extra, str(e), words))
        else:
            fail("run_client took %s" % extra)


def check_aggregator_refusals():
    """--model custom without init_model, or with a float64 model: a clear
    error at start, nothing served."""
    st.save({"w": np.zeros(3, np.float64)}, "f64.safetensors")
    for extra, words in (
            ([], "model custom needs init_model"),
            (["--init_model", "f64.safetensors"],
             "init_model f64.safetensors: tensor 'w' is F64: save the model "
             "as float32"),
            (["--init_model", "nope.safetensors"],
             "init_model nope.safetensors: not found")):
        r = subprocess.run([AGG, "--listen", "tcp://127.0.0.1:%d" % free_port(),
                            "--model", "custom", "--test_data", "none",
                            "--out_dir", "refused"] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = r.stdout.decode()
        if r.returncode == 0 or words not in out:
            fail("aggregator %s: exit %d, %r" % (extra, r.returncode, out))


def run_interrupt(procs):
    """Ctrl-C while the client waits for an aggregator that is not there:
    run_client ends and raises KeyboardInterrupt."""
    p = client("good0", free_port(), "init.safetensors", 1)
    procs.append(p)
    deadline = time.time() + 120
    while "joining" not in open("good0.log").read():
        if time.time() > deadline or p.poll() is not None:
            fail("client did not start", ["good0.log"])
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        fail("Ctrl-C did not stop the client", ["good0.log"])
    if p.returncode == 0 or "KeyboardInterrupt" not in open("good0.log").read():
        fail("no KeyboardInterrupt after Ctrl-C", ["good0.log"])
    os.unlink("good0.log")


def aggregator(port, rounds, out, log, extra=()):
    return subprocess.Popen(
        [AGG, "--listen", "tcp://127.0.0.1:%d" % port, "--identity_dir",
         "keys/aggregator", "--enrolled_keys", "keys/enrolled", "--model",
         "custom", "--init_model", "init.safetensors", "--test_data", "none",
         "--rounds", str(rounds), "--clients_per_round", "7",
         "--min_clients", "3", "--overselect", "1.0",
         "--selection_window_ms", "300", "--checkin_interval_ms", "100",
         "--round_timeout_s", str(ROUND_TIMEOUT_S), "--out_dir", out]
        + list(extra), stdout=open(log, "w"), stderr=subprocess.STDOUT)


def client(me, port, init, maxr):
    return subprocess.Popen(
        [sys.executable, "client.py", os.path.join(build, "python"), me,
         str(port), init, str(maxr)],
        stdout=open(me + ".log", "w"), stderr=subprocess.STDOUT)


def run_bad(procs):
    port = free_port()
    logs = ["agg.log"] + [k + ".log" for k in BAD + GOOD]
    agg = aggregator(port, ROUNDS, "out", "agg.log",
                     ["--secure_aggregation", "secagg", "--phase_timeout_s",
                      str(PHASE_TIMEOUT_S)])
    procs.append(agg)
    # every client stays to the end (one that left after its release would
    # be a dropout of the next round, which waits for phase_timeout_s)
    bad = [client(k, port, "init.safetensors", ROUNDS) for k in BAD]
    procs.extend(bad)
    # the failing clients are there before the others (so they are in the
    # first cohort, while the round waits for min_clients)
    deadline = time.time() + 120
    for k, p in zip(BAD, bad):
        while "joining" not in open(k + ".log").read():
            if time.time() > deadline or p.poll() is not None:
                fail("client %s did not start" % k, logs)
            time.sleep(0.1)
    good = [client(k, port, "init.safetensors", ROUNDS) for k in GOOD]
    procs.extend(good)
    try:
        rc = agg.wait(timeout=ROUND_TIMEOUT_S - 60)
    except subprocess.TimeoutExpired:
        fail("the federation did not finish: a round waited for its "
             "deadline?", logs)
    if rc != 0:
        fail("aggregator exit %d" % rc, logs)
    agglog = open("agg.log").read()
    for k, p, why in zip(BAD, bad, (
            "train raised ValueError", "'a.weight' is not finite (NaN/inf)",
            "'a.weight' shape (3, 4), not (4, 3)",
            "unknown tensor 'c.extra'")):
        log = open(k + ".log").read()
        if "local training failed: " + why not in log:
            fail("client %s did not say: %s" % (k, why), logs)
        if "withdrew: training failed (" + why + ")" not in agglog:
            fail("aggregator did not log the withdrawal: " + why, logs)
        if "released with this client's update (1 so far)" not in log:
            fail("client %s: no round released with its update after "
                 "the failure" % k, logs)
    raiselog = open("raise.log").read()
    if "Traceback" not in raiselog or "no data today" not in raiselog:
        fail("no traceback on the client's stderr", logs)
    if "no data today" in agglog:
        fail("the exception's text left the device", logs)
    rows = list(csv.DictReader(open("out/rounds.csv")))
    if len([r for r in rows if r["status"] == "ok"]) != ROUNDS:
        fail("%d rounds released: %s" % (ROUNDS, rows), logs)
    secs = [float(r["seconds"]) for r in rows]
    if max(secs) >= PHASE_TIMEOUT_S * 0.9:
        fail("a round took %.1f s: it waited for the deadline" % max(secs))
    out, _ = st.load("out/model.safetensors")
    if out["n"] != 5 or out["n"].dtype != np.int64:
        fail("carried tensor n changed: %r" % out["n"])
    if out["b.weight"].dtype != np.float16 or out["b.weight"].shape != (2,):
        fail("b.weight is not F16 [2] any more")
    if not np.isfinite(out["a.weight"]).all():
        fail("NaN reached the model")
    # every released round moved every federated value by +0.01 (the
    # failed updates never reached the sum)
    want = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 + ROUNDS * 0.01
    if not np.allclose(out["a.weight"], want, atol=2e-3):
        fail("a.weight after 8 rounds: %r, expected %r"
             % (out["a.weight"], want))
    print("bad training functions: 4 withdrawals with their reasons, "
          "%d rounds released, slowest %.1f s" % (ROUNDS, max(secs)))


def run_other(procs):
    port = free_port()
    logs = ["agg2.log", "other.log"]
    agg = aggregator(port, 1, "out2", "agg2.log",
                     ["--min_clients", "1", "--clients_per_round", "1"])
    procs.append(agg)
    other = client("other", port, "other.safetensors", 1)
    procs.append(other)
    mine = privfl.Layout("other.safetensors").digest[:8].hex()
    theirs = privfl.Layout("init.safetensors").digest[:8].hex()
    line = "plan refused: model layout %s, this client trains %s" % (
        theirs, mine)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (line in open("other.log").read() and
                "withdrew: model layout differs" in open("agg2.log").read()):
            break
        if agg.poll() is not None or other.poll() is not None:
            fail("a process ended", logs)
        time.sleep(0.2)
    else:
        fail("no refusal of the other layout: " + line, logs)
    if re.search(r"model refused|GET_MODEL|get_model", open("other.log")
                 .read()):
        fail("the client fetched the model of a plan it refused", logs)
    print("other layout: refused before the model was fetched")


main()
