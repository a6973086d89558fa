#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Alternates bench_autograd (kiln) and torch_autograd.py (PyTorch) runs and prints, per
case and thread count, each side's median over the runs and the median of the per-run
ratios kiln / torch (time: below 1 means kiln is faster).

    /usr/bin/python3 benchmarks/compare_autograd.py build/bench/benchmarks/bench_autograd [runs]
"""
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROW = re.compile(r"^\s+summary (.+?) (\d) thread\(s\) ([\d.]+)$")
UNITS = {"chain backward": "ms", "MLP step": "ms", "node forward": "ns/node",
         "node backward": "ns/node"}


def summary(text):
    out = {}
    for line in text.splitlines():
        if m := ROW.match(line):
            out[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return out


def compare_times(bench, torch_script, runs, units=None):
    """Alternates `bench` and `torch_script` `runs` times and prints the table of their
    `summary` lines (times: below 1 means kiln is faster). Also used by
    compare_train_step.py."""
    units = units or {}
    kiln, torch = [], []
    for r in range(runs):
        k = subprocess.run([bench], capture_output=True, text=True, check=True).stdout
        t = subprocess.run([sys.executable, os.path.join(HERE, torch_script)],
                           capture_output=True, text=True, check=True).stdout
        kiln.append(summary(k))
        torch.append(summary(t))
        print(f"run {r + 1}/{runs} done", file=sys.stderr)
    print(f"medians over {runs} alternating runs; ratio = median of per-run kiln / torch times")
    print(f"  {'case':<16} {'threads':>7} {'kiln':>10} {'torch':>10} {'unit':>8} {'kiln/torch':>11}")
    for key in kiln[0]:
        if key not in torch[0]:
            continue
        kv = statistics.median(run[key] for run in kiln)
        tv = statistics.median(run[key] for run in torch)
        ratio = statistics.median(k[key] / t[key] for k, t in zip(kiln, torch))
        print(f"  {key[0]:<16} {key[1]:>7} {kv:>10.3f} {tv:>10.3f} {units.get(key[0], 'ms'):>8} "
              f"{ratio:>11.2f}")


def main():
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    compare_times(sys.argv[1], "torch_autograd.py", runs, UNITS)


if __name__ == "__main__":
    main()
