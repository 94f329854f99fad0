#!/usr/bin/env python3
"""Plot test accuracy against epsilon (and against round) from the CSV that
bench/dp_utility.sh writes. Usage: plot_dp_utility.py CSV PNG [--summary]

--summary prints the table of docs/PRIVACY_UTILITY.md (Markdown) to stdout.
"""
import csv
import sys
from collections import defaultdict

EPS_TARGET = 4.0
COLORS = {
    "nonprivate": "k",
    "central_fixed": "tab:blue",
    "central_fixed_s03": "tab:purple",
    "central_adaptive": "tab:green",
    "distributed_fixed": "tab:orange",
}
LABELS = {
    "nonprivate": "non-private",
    "central_fixed": "central DP, fixed clip S = 0.5",
    "central_fixed_s03": "central DP, fixed clip S = 0.3",
    "central_adaptive": "central DP, adaptive clip (S0 = 0.5, median)",
    "distributed_fixed": "distributed DP (SecAgg+), fixed clip S = 0.5",
}


def load(path):
    runs = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs[row["setting"]].append({
                "round": int(row["round"]),
                "accuracy": float(row["accuracy"]),
                "epsilon": float(row["epsilon"]),
                "clip_norm": float(row["clip_norm"]),
                "survived": int(row["survived"]),
            })
    for rows in runs.values():
        rows.sort(key=lambda r: r["round"])
    return runs


def at_budget(rows):
    """Last evaluated row with epsilon <= EPS_TARGET (None if none)."""
    ok = [r for r in rows if r["epsilon"] <= EPS_TARGET]
    return ok[-1] if ok else None


def summary(runs):
    """Markdown table. Ratios are against the non-private run's final
    accuracy (the stricter reference) and at the same round."""
    base = runs.get("nonprivate")
    top = base[-1]["accuracy"] if base else None
    out = ["| setting | last evaluated round | accuracy there | epsilon there | "
           "last eval with eps <= 4: round | accuracy | epsilon | "
           "ratio to non-private final | ratio to non-private, same round |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name in LABELS:
        rows = runs.get(name)
        if not rows:
            continue
        last = rows[-1]
        if name == "nonprivate":
            out.append(f"| {LABELS[name]} | {last['round']} | "
                       f"{last['accuracy']:.4f} | (none) | - | - | - | 1 | 1 |")
            continue
        b = at_budget(rows)
        cells = [LABELS[name], str(last["round"]), f"{last['accuracy']:.4f}",
                 f"{last['epsilon']:.3f}"]
        if b is None:
            cells += ["-"] * 5
        else:
            same = [r["accuracy"] for r in base or []
                    if r["round"] == b["round"]]
            cells += [str(b["round"]), f"{b['accuracy']:.4f}",
                      f"{b['epsilon']:.3f}",
                      f"{b['accuracy'] / top:.3f}" if top else "-",
                      f"{b['accuracy'] / same[0]:.3f}" if same else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(runs, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    base = runs.get("nonprivate")
    for name, label in LABELS.items():
        rows = runs.get(name)
        if not rows:
            continue
        rnd = [r["round"] for r in rows]
        acc = [r["accuracy"] for r in rows]
        ax2.plot(rnd, acc, marker=".", label=label, color=COLORS[name])
        if name == "nonprivate":
            continue
        ax1.plot([r["epsilon"] for r in rows], acc, marker=".", label=label,
                 color=COLORS[name])
    if base:
        top = base[-1]["accuracy"]
        ax1.axhline(top, color="k", lw=1, alpha=0.6,
                    label=f"non-private, round {base[-1]['round']}")
        ax1.axhline(0.9 * top, color="k", ls="--", lw=1,
                    label="0.9 x non-private")
    ax1.axvline(EPS_TARGET, color="r", ls=":", lw=1, label="epsilon = 4")
    ax1.set_xlabel("epsilon (delta = 1e-5, RDP accountant)")
    ax1.set_ylabel("test accuracy")
    ax1.set_title("Accuracy vs epsilon (each point: a round)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")
    ax2.set_xlabel("round")
    ax2.set_ylabel("test accuracy")
    ax2.set_title("Accuracy vs round")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle("Fashion-MNIST, logreg, 3000 clients x 20 examples, "
                 "100 per round (q = 130/3000), z = 1.0",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: plot_dp_utility.py CSV PNG [--summary]")
    runs = load(sys.argv[1])
    print(summary(runs))
    if "--summary" in sys.argv[3:]:
        return
    plot(runs, sys.argv[2])


if __name__ == "__main__":
    main()
