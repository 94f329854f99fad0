#!/usr/bin/python3
"""PyTorch reference for privfl's training engine.

  torch_train.py eval FILE.safetensors [--model mlp] [--data-dir DIR]
      load a privfl model file into the matching torch.nn module with
      load_state_dict(strict=True) and print its Fashion-MNIST test accuracy
  torch_train.py bench --model mlp --batch 32 [--samples N] [--reps R]
      single-threaded training throughput (samples/s, best of R runs):
      shuffled mini-batches, forward, cross-entropy, backward, SGD step;
      N / batch steps per run (N a multiple of the batch). Prints the
      same workload= as bench_train for the same arguments, which
      bench/train.sh compares before it prints a ratio

Only the standard library, numpy and torch (Debian python3-torch); the
safetensors file is parsed here with json + numpy.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FMNIST = "/usr/share/datasets/fashion-mnist"


class LogReg(nn.Module):
    def __init__(self, d=784, k=10):
        super().__init__()
        self.fc = nn.Linear(d, k)

    def forward(self, x):
        return self.fc(x.flatten(1))


class MLP(nn.Module):
    def __init__(self, d=784, h1=200, h2=200, k=10):
        super().__init__()
        self.fc1 = nn.Linear(d, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, k)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class CNN(nn.Module):
    def __init__(self, c=1, k=10, hw=28):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * (hw // 4) * (hw // 4), 512)
        self.fc2 = nn.Linear(512, k)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def make_model(name):
    if name == "logreg":
        return LogReg()
    if name == "cnn":
        return CNN()
    if name.startswith("mlp"):
        h = (200, 200)
        if ":" in name:
            h = tuple(int(v) for v in name.split(":")[1].split(","))
        return MLP(h1=h[0], h2=h[1])
    raise SystemExit("unknown model " + name)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", t
        b, e = t["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def load_idx(path):
    """An unsigned-byte IDX file (gzip or not), checked: type, rank 1-3,
    and exactly as many bytes as its dimensions say."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 \
            or not 1 <= raw[3] <= 3:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    if len(raw) != 4 + 4 * nd + int(np.prod(dims)):
        raise ValueError("%s: truncated or too long" % path)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_fmnist(d, train):
    pre = "train" if train else "t10k"
    x = load_idx(os.path.join(d, pre + "-images-idx3-ubyte.gz"))
    y = load_idx(os.path.join(d, pre + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def cmd_eval(a):
    tensors, meta = read_safetensors(a.file)
    name = a.model or meta.get("privfl.model", "mlp")
    m = make_model(name)
    m.load_state_dict(tensors, strict=True)
    m.eval()
    x, y = load_fmnist(a.data_dir, False)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            out = m(x[i:i + 1000])
            loss += F.cross_entropy(out, y[i:i + 1000], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + 1000]).sum().item()
    print("torch accuracy=%.4f loss=%.4f" % (correct / len(y), loss / len(y)))


def cmd_bench(a):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    x, y = load_fmnist(a.data_dir, True)
    m = make_model(a.model)
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    n = len(y)
    if a.batch < 1 or a.samples % a.batch != 0:
        raise SystemExit("--samples must be a multiple of --batch")
    steps = a.samples // a.batch
    perm = torch.randperm(n)
    # warm-up
    for s in range(5):
        idx = perm[s * a.batch:(s + 1) * a.batch]
        opt.zero_grad()
        F.cross_entropy(m(x[idx]), y[idx]).backward()
        opt.step()
    best = 0.0
    pos = 0
    for r in range(a.reps):
        t0 = time.perf_counter()
        for s in range(steps):
            if pos + a.batch > n:
                perm = torch.randperm(n)
                pos = 0
            idx = perm[pos:pos + a.batch]
            pos += a.batch
            opt.zero_grad()
            loss = F.cross_entropy(m(x[idx]), y[idx])
            loss.backward()
            opt.step()
        best = max(best, steps * a.batch / (time.perf_counter() - t0))
    print("torch workload=train,model=%s,batch=%d,samples=%d,reps=%d,threads=1"
          " samples_per_s=%.0f" % (a.model, a.batch, a.samples, a.reps, best))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eval")
    e.add_argument("file")
    e.add_argument("--model")
    e.add_argument("--data-dir", default=FMNIST)
    b = sub.add_parser("bench")
    b.add_argument("--model", default="mlp")
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--samples", type=int, default=20000,
                   help="samples per run, a multiple of --batch")
    b.add_argument("--reps", type=int, default=3, help="report the best of this many runs")
    b.add_argument("--data-dir", default=FMNIST)
    a = p.parse_args()
    {"eval": cmd_eval, "bench": cmd_bench}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
