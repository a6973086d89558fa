#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Per-call overhead of small ops from Python: kiln against torch (where installed), side
by side in one run. The tensors have 16 elements, so the time is the binding's dispatch,
not arithmetic.

  PYTHONPATH=build/release/python python3 benchmarks/python/bench_overhead.py
"""
import timeit

import kiln

try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    torch = None

CASES = [
    ("a + b", "a + b"),
    ("a * 2.0", "a * 2.0"),
    ("a.exp()", "a.exp()"),
    ("a.sum()", "a.sum()"),
    ("a[3]", "a[3]"),
    ("a.reshape(4, 4)", "a.reshape(4, 4)"),
]


def per_call_us(stmt, env, number=100_000, repeat=7):
    return min(timeit.repeat(stmt, globals=env, number=number, repeat=repeat)) / number * 1e6


def main():
    k_env = {"a": kiln.ones(16), "b": kiln.ones(16)}
    t_env = {"a": torch.ones(16), "b": torch.ones(16)} if torch else None
    print("| op | kiln µs | torch µs | kiln / torch |")
    print("|---|---|---|---|")
    for name, stmt in CASES:
        k = per_call_us(stmt, k_env)
        if t_env is not None:
            t = per_call_us(stmt, t_env)
            print(f"| `{name}` | {k:.2f} | {t:.2f} | {k / t:.2f} |")
        else:
            print(f"| `{name}` | {k:.2f} | (torch not installed) | |")
    if torch:
        print(f"\ntorch {torch.__version__}, 1 thread")


if __name__ == "__main__":
    main()
