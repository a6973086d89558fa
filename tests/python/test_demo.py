# SPDX-License-Identifier: BSD-3-Clause
"""The Python demo, run as a user runs it: examples/python/fashion_mnist.py trains the
C++ demo's MLP to the C++ demo's accuracy (88.9% after its 5 epochs; the target is 88%)."""
import csv
import os
import re
import subprocess
import sys

import pytest

import kiln

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "examples", "python", "fashion_mnist.py")


@pytest.mark.skipif(not os.path.isdir(kiln.datasets.FashionMNIST.root_default),
                    reason="Fashion-MNIST is not installed (Debian: dataset-fashion-mnist)")
def test_python_demo_mlp_reaches_the_cpp_demos_accuracy(tmp_path):
    run = subprocess.run([sys.executable, DEMO, "--model", "mlp", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    final = re.search(r"mlp: test accuracy ([0-9.]+)", run.stdout)
    assert final, run.stdout
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    losses = [float(r["train_loss"]) for r in rows]
    assert losses == sorted(losses, reverse=True), losses  # training makes progress
    assert float(rows[-1]["test_acc"]) == pytest.approx(float(final.group(1)), abs=1e-4)
    assert float(final.group(1)) >= 0.88, run.stdout
