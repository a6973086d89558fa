#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Alternates bench_conv (kiln) and torch_conv.py (PyTorch) runs and prints, per case and
thread count, each side's median GFLOP/s over the runs and the median of the per-run
ratios kiln / torch (runs alternate, so drift on a shared machine hits both alike).

    /usr/bin/python3 benchmarks/compare_conv.py build/bench/benchmarks/bench_conv [runs]
"""
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROW = re.compile(r"^  (.+?)\s+(\d)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")
TORCH_ROW = re.compile(r"^  (.+?)\s+(\d) thread\(s\)\s+([\d.]+)$")


def summary(lines, pattern):
    out, on = {}, False
    for line in lines:
        if line.startswith("summary"):
            on = True
        elif on and (m := pattern.match(line)):
            out[(m.group(1).strip(), int(m.group(2)))] = [float(g) for g in m.groups()[2:]]
    return out


def main():
    bench = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    kiln, torch = [], []
    for r in range(runs):
        k = subprocess.run([bench], capture_output=True, text=True, check=True).stdout
        t = subprocess.run([sys.executable, os.path.join(HERE, "torch_conv.py")],
                           capture_output=True, text=True, check=True).stdout
        kiln.append(summary(k.splitlines(), ROW))
        torch.append(summary(t.splitlines(), TORCH_ROW))
        load = re.search(r"load average ([\d.]+)", k)
        print(f"run {r + 1}/{runs} done (load average {load.group(1) if load else '?'})",
              file=sys.stderr)
    print(f"medians over {runs} alternating runs (GFLOP/s); ratio = median of per-run "
          "kiln oneDNN / torch")
    print(f"  {'case':<38} {'threads':>7} {'kiln oneDNN':>12} {'kiln GEMM':>10} {'torch':>8} "
          f"{'kiln/torch':>11}")
    for key in kiln[0]:
        if key not in torch[0]:
            continue
        kd = statistics.median(run[key][0] for run in kiln)
        kg = statistics.median(run[key][1] for run in kiln)
        tt = statistics.median(run[key][0] for run in torch)
        ratio = statistics.median(k[key][0] / t[key][0] for k, t in zip(kiln, torch))
        print(f"  {key[0]:<38} {key[1]:>7} {kd:>12.1f} {kg:>10.1f} {tt:>8.1f} {ratio:>11.2f}")


if __name__ == "__main__":
    main()
