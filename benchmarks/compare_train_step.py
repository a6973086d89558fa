#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Alternates bench_train_step (kiln) and torch_train_step.py (PyTorch) runs and prints,
per model and thread count, each side's median step time and the median of the per-run
ratios kiln / torch (below 1 means kiln is faster; the issue's target is <= 0.9).

    /usr/bin/python3 benchmarks/compare_train_step.py build/bench/benchmarks/bench_train_step [runs]
"""
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_autograd import summary  # noqa: E402  (same `summary` line format)


def main():
    bench = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    kiln, torch = [], []
    for r in range(runs):
        k = subprocess.run([bench], capture_output=True, text=True, check=True).stdout
        t = subprocess.run([sys.executable, os.path.join(HERE, "torch_train_step.py")],
                           capture_output=True, text=True, check=True).stdout
        kiln.append(summary(k))
        torch.append(summary(t))
        print(f"run {r + 1}/{runs} done", file=sys.stderr)
    print(f"medians over {runs} alternating runs; ratio = median of per-run kiln / torch times")
    print(f"  {'case':<10} {'threads':>7} {'kiln ms':>9} {'torch ms':>9} {'kiln/torch':>11}")
    for key in kiln[0]:
        if key not in torch[0]:
            continue
        kv = statistics.median(run[key] for run in kiln)
        tv = statistics.median(run[key] for run in torch)
        ratio = statistics.median(k[key] / t[key] for k, t in zip(kiln, torch))
        print(f"  {key[0]:<10} {key[1]:>7} {kv:>9.3f} {tv:>9.3f} {ratio:>11.2f}")


if __name__ == "__main__":
    main()
