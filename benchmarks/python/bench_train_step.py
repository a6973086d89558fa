#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""One training step of the demo's MLP (784-256-128-10, batch 64, cross entropy, Adam)
written the same way in kiln and torch, timed side by side in one run (median of several
rounds, alternating), at one thread.

  PYTHONPATH=build/release/python python3 benchmarks/python/bench_train_step.py
"""
import statistics
import time

import kiln

try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    torch = None


def mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def make_step(lib, nn, F, x, y):
    model = mlp(nn)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def time_steps(step, n):
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n * 1e3


def main(steps=200, rounds=7):
    import kiln.nn as knn
    import kiln.nn.functional as kF
    kiln.manual_seed(0)
    kx, ky = kiln.randn(64, 1, 28, 28), kiln.randint(0, 10, (64,))
    runs = {"kiln": make_step(kiln, knn, kF, kx, ky)}
    if torch:
        tx, ty = torch.from_numpy(kx.numpy()), torch.from_numpy(ky.numpy())
        runs["torch"] = make_step(torch, torch.nn, torch.nn.functional, tx, ty)
    for s in runs.values():
        time_steps(s, 20)  # warm up
    times = {k: [] for k in runs}
    for _ in range(rounds):
        for k, s in runs.items():
            times[k].append(time_steps(s, steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k}: {v:.3f} ms per step")
    if torch:
        print(f"kiln / torch: {med['kiln'] / med['torch']:.2f} (torch {torch.__version__}, "
              "1 thread)")


if __name__ == "__main__":
    main()
