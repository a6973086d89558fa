#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch reference for benchmarks/bench_train_step.cpp: the same CNN and MLP, one
training step (forward, cross entropy, backward, Adam) on a batch of 64, medians of timed
rounds after warm-up, at 1 and 2 threads, printed as `summary` lines that
compare_train_step.py reads.

Run with the interpreter that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 benchmarks/torch_train_step.py [--quick]
A benchmark reference only; kiln never depends on torch.
"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
                         nn.Linear(128, 10))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def step_case(name, make, threads, reps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = make()
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(f"  summary {name} step {threads} thread(s) {statistics.median(times) * 1e3:.4f}")


def main():
    quick = len(sys.argv) > 1 and sys.argv[1] == "--quick"
    print(f"torch {torch.__version__}")
    for t in (1, 2):
        step_case("CNN", cnn, t, 5 if quick else 30)
        step_case("MLP", mlp, t, 5 if quick else 60)


if __name__ == "__main__":
    main()
