#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch reference for benchmarks/bench_autograd.cpp: the same cases (chain backward,
MLP 784-256-128-10 training step, per-node engine cost), medians of timed rounds after
warm-up, at 1 and 2 threads, printed as `summary` lines that compare_autograd.py reads.

Run with the interpreter that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 benchmarks/torch_autograd.py [--quick]
A benchmark reference only; kiln never depends on torch.
"""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def chain(threads, n, reps):
    torch.set_num_threads(threads)
    xs = [(torch.rand(n) * 2 - 1).requires_grad_() for _ in range(5)]
    g = torch.rand(n) * 2 - 1
    times = []
    for r in range(reps + 2):
        for x in xs:
            x.grad = None
        a, b, c, d, e = xs
        y = a * b + c * d - torch.sin(e)
        t0 = time.perf_counter()
        y.backward(g)
        if r >= 2:
            times.append(time.perf_counter() - t0)
    print(f"  summary chain backward {threads} thread(s) {statistics.median(times) * 1e3:.4f}")


def mlp(threads, reps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10))
    x = torch.rand(128, 784)
    target = torch.arange(128) % 10

    def step():
        net.zero_grad(set_to_none=True)
        loss = F.nll_loss(F.log_softmax(net(x), 1), target)
        loss.backward()

    t = median_time(step, 5, reps)
    print(f"  summary MLP step {threads} thread(s) {t * 1e3:.4f}")


def nodes(reps):
    torch.set_num_threads(1)
    x = (torch.rand(16) * 2 - 1).requires_grad_()
    fwd, bwd = [], []
    for r in range(reps + 2):
        x.grad = None
        t0 = time.perf_counter()
        y = x
        for _ in range(1000):
            y = y * 1.0001
        loss = y.sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if r >= 2:
            fwd.append((t1 - t0) / 1000)
            bwd.append((t2 - t1) / 1000)
    print(f"  summary node forward 1 thread(s) {statistics.median(fwd) * 1e9:.1f}")
    print(f"  summary node backward 1 thread(s) {statistics.median(bwd) * 1e9:.1f}")


def main():
    quick = "--quick" in sys.argv
    print(f"== torch_autograd: PyTorch {torch.__version__}")
    print(f"   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("summary")
    n = (1 << 20) if quick else (16 << 20)
    for threads in (1, 2):
        chain(threads, n, 3 if quick else 9)
    for threads in (1, 2):
        mlp(threads, 5 if quick else 30)
    nodes(3 if quick else 15)


if __name__ == "__main__":
    main()
