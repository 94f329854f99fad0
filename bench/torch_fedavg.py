#!/usr/bin/python3
"""PyTorch reference for privfl's FedAvg simulation (bench/fedavg.sh).

The same FedAvg as

  privfl-sim --dataset fashion-mnist --model mlp --clients 100 --per-round 10
      --rounds 50 --local-epochs 1 --batch 32 --lr 0.05 --partition iid

done sequentially in one process on one thread: 60 000 training images
split IID over 100 clients (600 each), 10 clients sampled uniformly without
replacement each round, each training 1 local epoch of plain SGD
(shuffled mini-batches of 32, lr 0.05) from the global model on the
784-200-200-10 ReLU MLP, the new global model the average of the client
models weighted by their example counts, and the accuracy on the 10 000
test images evaluated after every round (as privfl's simulator does).

Prints one line per round and a final line
  final_accuracy=A seconds=S cpu_seconds=C workload=W
where W names the settings (the same string bench/fedavg.sh builds for
privfl-sim from the same settings, compared before any ratio is
printed), S is the wall time and C the process CPU time from reading the data
to the last evaluation (the interpreter and torch import are not counted).

Only the standard library, numpy and torch (Debian python3-torch).
"""
import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# The model and the data loader of the training benchmark (same directory).
from torch_train import MLP, load_fmnist

FMNIST = "/usr/share/datasets/fashion-mnist"


def dirichlet_split(labels, clients, alpha, rng):
    """privfl's dirichlet:ALPHA (model/src/partition.c, as NIID-Bench):
    each class is dealt to the clients in Dirichlet(alpha) proportions,
    a client that reached n / clients samples gets no more, and the draw
    is repeated until every client has min(n / (2 clients), 10)."""
    n = len(labels)
    cap = n // clients
    need = min(n // (2 * clients), 10)
    classes = int(labels.max()) + 1
    for _ in range(100):
        owner = np.empty(n, dtype=np.int64)
        cnt = np.zeros(clients, dtype=np.int64)
        for k in range(classes):
            idx = np.flatnonzero(labels == k)
            rng.shuffle(idx)
            p = rng.dirichlet([alpha] * clients)
            p[cnt >= cap] = 0.0
            p = p / p.sum() if p.sum() > 0 else np.full(clients, 1 / clients)
            ends = (np.cumsum(p) * len(idx)).astype(np.int64)
            ends[-1] = len(idx)
            start = 0
            for j in range(clients):
                owner[idx[start:ends[j]]] = j
                cnt[j] += max(0, ends[j] - start)
                start = max(start, ends[j])
        sizes = np.bincount(owner, minlength=clients)
        if sizes.min() >= need:
            break
    return [np.flatnonzero(owner == j) for j in range(clients)]


def local_train(model, x, y, epochs, batch, lr, gen):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    n = len(x)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    correct = 0
    for s in range(0, len(x), batch):
        correct += (model(x[s:s + batch]).argmax(1) == y[s:s + batch]).sum()
    return int(correct) / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=FMNIST)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--local-epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partition", default="iid",
                    help="iid or dirichlet:ALPHA")
    a = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    t0 = time.perf_counter()
    c0 = time.process_time()
    xtr, ytr = load_fmnist(a.data_dir, True)
    xte, yte = load_fmnist(a.data_dir, False)
    xtr, xte = xtr.flatten(1), xte.flatten(1)  # [n, 784]
    if a.partition == "iid":
        # IID: a random permutation cut into equal parts.
        parts = np.array_split(rng.permutation(len(xtr)), a.clients)
    elif a.partition.startswith("dirichlet:"):
        parts = dirichlet_split(ytr.numpy(), a.clients,
                                float(a.partition.split(":", 1)[1]), rng)
    else:
        raise SystemExit("unknown partition %s" % a.partition)
    parts = [torch.from_numpy(p) for p in parts]

    glob = MLP()
    local = MLP()
    acc = float("nan")
    for rnd in range(1, a.rounds + 1):
        chosen = rng.choice(a.clients, size=a.per_round, replace=False)
        gstate = {k: v.clone() for k, v in glob.state_dict().items()}
        total = {k: torch.zeros_like(v) for k, v in gstate.items()}
        weight = 0
        for c in chosen:
            idx = parts[c]
            local.load_state_dict(gstate)
            local_train(local, xtr[idx], ytr[idx], a.local_epochs, a.batch,
                        a.lr, gen)
            n = len(idx)
            with torch.no_grad():
                for k, v in local.state_dict().items():
                    total[k].add_(v, alpha=float(n))
            weight += n
        glob.load_state_dict({k: v / weight for k, v in total.items()})
        acc = accuracy(glob, xte, yte)
        print("round %d accuracy %.4f" % (rnd, acc), flush=True)
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    workload = ("fedavg,model=mlp,clients=%d,per_round=%d,rounds=%d,epochs=%d,"
                "batch=%d,lr=%g,partition=%s,seed=%d" %
                (a.clients, a.per_round, a.rounds, a.local_epochs, a.batch,
                 a.lr, a.partition, a.seed))
    print("final_accuracy=%.4f seconds=%.3f cpu_seconds=%.3f workload=%s" %
          (acc, secs, cpu, workload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
