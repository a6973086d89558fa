#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Trains the C++ demo's CNN (or, with --model mlp, its MLP) on Fashion-MNIST from Python
with kiln, as a PyTorch user would write it; prints per-epoch loss, accuracy and samples/s,
evaluates on the test set, writes a metrics CSV and, where matplotlib is installed, a plot.

  PYTHONPATH=build/release/python python3 examples/python/fashion_mnist.py --epochs 5
"""
import argparse
import csv
import os
import time

import kiln
import kiln.nn as nn
import kiln.nn.functional as F

try:
    from tqdm import tqdm
except ImportError:  # progress bars are optional
    tqdm = None


def make_model(name):
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10))
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with kiln.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).long().sum().item()
            total += y.shape[0]
    return correct / total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default=None, help="Fashion-MNIST directory")
    ap.add_argument("--out", default="fashion_mnist_py_out")
    ap.add_argument("--limit", type=int, default=0, help="use only this many training images")
    args = ap.parse_args()

    kiln.manual_seed(args.seed)
    train = kiln.datasets.FashionMNIST(args.root, train=True)
    test = kiln.datasets.FashionMNIST(args.root, train=False)
    if args.limit:
        train = kiln.utils.data.Subset(train, range(args.limit))
    loader = kiln.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True,
                                        seed=args.seed)
    test_loader = kiln.utils.data.DataLoader(test, batch_size=1000)

    model = make_model(args.model)
    opt = kiln.optim.Adam(model.parameters(), lr=args.lr)
    sched = kiln.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0, seen, loss_sum, correct = time.time(), 0, 0.0, 0
        batches = tqdm(loader, desc=f"epoch {epoch}", leave=False) if tqdm else loader
        for x, y in batches:
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            n = y.shape[0]
            seen += n
            loss_sum += loss.item() * n
            correct += (logits.argmax(1) == y).long().sum().item()
        sched.step()
        acc = evaluate(model, test_loader)
        rate = seen / (time.time() - t0)
        rows.append((epoch, loss_sum / seen, correct / seen, acc))
        print(f"epoch {epoch}: loss {loss_sum / seen:.4f}, train acc {correct / seen:.4f}, "
              f"test acc {acc:.4f}, {rate:.0f} samples/s")
    print(f"{args.model}: test accuracy {rows[-1][3]:.4f} in {time.time() - start:.1f} s")

    with open(os.path.join(args.out, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "train_acc", "test_acc"])
        w.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot([r[0] for r in rows], [r[1] for r in rows], marker="o")
    a.set(xlabel="epoch", ylabel="train loss")
    b.plot([r[0] for r in rows], [r[2] for r in rows], marker="o", label="train")
    b.plot([r[0] for r in rows], [r[3] for r in rows], marker="o", label="test")
    b.set(xlabel="epoch", ylabel="accuracy")
    b.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "curves.png"), dpi=100)


if __name__ == "__main__":
    main()
