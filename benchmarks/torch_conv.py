#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch reference for benchmarks/bench_conv.cpp: the same convolution cases and pooling
lines, medians of timed rounds after warm-up, at 1 and 2 threads, in GFLOP/s
(2 * N * O * OH * OW * C / groups * kH * kW per call).

Run with the interpreter that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 benchmarks/torch_conv.py [--quick]
A benchmark reference only; kiln never depends on torch.
"""
import os
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F

CASES = [
    # name, pass, n, c, h, o, k, pad  (square images, stride 1)
    ("fwd [64,32,28,28] x 64 3x3 pad 1", "fwd", 64, 32, 28, 64, 3, 1),
    ("fwd [64,1,28,28] x 32 3x3 pad 1", "fwd", 64, 1, 28, 32, 3, 1),
    ("fwd [64,32,14,14] x 64 3x3 pad 1", "fwd", 64, 32, 14, 64, 3, 1),
    ("bwd input [64,32,28,28] x 64 3x3", "bwd_input", 64, 32, 28, 64, 3, 1),
    ("bwd weight [64,32,28,28] x 64 3x3", "bwd_weight", 64, 32, 28, 64, 3, 1),
    ("fwd depthwise [64,32,28,28] 3x3 g=32", "fwd", 64, 32, 28, 32, 3, 1, 32),
]


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t), min(t), max(t)


def make_call(kind, n, c, h, o, k, pad, groups=1):
    x = torch.rand(n, c, h, h) * 2 - 1
    w = (torch.rand(o, c // groups, k, k) * 2 - 1) * 0.2
    oh = h + 2 * pad - k + 1
    gy = torch.rand(n, o, oh, oh) * 2 - 1
    flops = 2.0 * n * o * oh * oh * (c // groups) * k * k
    conv_bwd = torch.ops.aten.convolution_backward
    if kind == "fwd":
        return (lambda: F.conv2d(x, w, None, 1, pad, 1, groups)), flops
    mask = [True, False, False] if kind == "bwd_input" else [False, True, False]
    return (lambda: conv_bwd(gy, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], groups,
                             mask)), flops


def main():
    quick = "--quick" in sys.argv
    warmup, reps = (1, 3) if quick else (2, 7)
    cap = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    print(f"== torch_conv: PyTorch {torch.__version__}, oneDNN (mkldnn) enabled: "
          f"{torch.backends.mkldnn.is_available()}")
    print(f"   ATen CPU capability: {cap.group(1) if cap else 'unknown'} "
          f"(ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'unset')}); "
          f"convolutions run in oneDNN whatever it is")
    print(f"   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    torch.manual_seed(0)
    with torch.no_grad():
        calls = [(name,) + make_call(kind, *dims) for name, kind, *dims in CASES]
        x = torch.rand(64, 32, 28, 28)
        pools = [
            ("max_pool2d 2x2", lambda: F.max_pool2d(x, 2)),
            ("max_pool2d_with_indices 2x2", lambda: F.max_pool2d(x, 2, return_indices=True)),
            ("avg_pool2d 3x3 s2 p1", lambda: F.avg_pool2d(x, 3, 2, 1)),
            ("adaptive_avg_pool2d 1x1", lambda: F.adaptive_avg_pool2d(x, 1)),
        ]
        rows = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            print(f"\n======== {threads} thread{'s' if threads > 1 else ''} ========")
            for name, fn, flops in calls:
                med, lo, hi = timed(fn, warmup, reps)
                print(f"  {name:<38} median {med * 1e3:8.3f} ms (min {lo * 1e3:.3f}, "
                      f"max {hi * 1e3:.3f})  {flops / med * 1e-9:6.1f} GFLOP/s")
                rows.append((name, threads, flops / med * 1e-9))
            for name, fn in pools:
                med, lo, hi = timed(fn, warmup, reps)
                print(f"  {name:<38} median {med * 1e3:8.3f} ms (min {lo * 1e3:.3f}, "
                      f"max {hi * 1e3:.3f})")
    print("\nsummary (GFLOP/s at the median)")
    for name, threads, g in rows:
        print(f"  {name:<38} {threads} thread(s) {g:7.1f}")


if __name__ == "__main__":
    main()
