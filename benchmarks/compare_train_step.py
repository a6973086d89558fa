#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Alternates bench_train_step (kiln) and torch_train_step.py (PyTorch) runs and prints,
per model and thread count, each side's median step time (ms) and the median of the
per-run ratios kiln / torch (below 1 means kiln is faster; the nn issue's target is 0.9).

    /usr/bin/python3 benchmarks/compare_train_step.py build/bench/benchmarks/bench_train_step [runs]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_autograd import compare_times  # noqa: E402  (same summary-line format)

if __name__ == "__main__":
    compare_times(sys.argv[1], "torch_train_step.py", int(sys.argv[2]) if len(sys.argv) > 2 else 3)
