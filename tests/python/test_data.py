# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils.data and kiln.datasets: batches, order, determinism, splits, Fashion-MNIST."""
import os

import pytest

import kiln
from kiln.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split


def test_tensor_dataset_and_loader_cover_every_sample_once():
    x = kiln.arange(10).reshape(10, 1)
    y = kiln.arange(10) * 10
    ds = TensorDataset(x, y)
    assert len(ds) == 10 and ds[3][1].item() == 30
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert [v for b in batches for v in b[1].tolist()] == [i * 10 for i in range(10)]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [b[0].shape[0] for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]


def test_shuffle_is_a_permutation_fixed_by_the_seed():
    ds = TensorDataset(kiln.arange(100))
    a = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    e1 = [v for (b,) in a for v in b.tolist()]
    e2 = [v for (b,) in a for v in b.tolist()]
    assert sorted(e1) == list(range(100)) and e1 != list(range(100))
    assert e1 != e2  # a new order each epoch
    b = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    assert [v for (t,) in b for v in t.tolist()] == e1


def test_custom_dataset_collates_samples():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return kiln.tensor([float(i)]), i * i

    xb, yb = next(iter(DataLoader(Squares(), batch_size=5)))
    assert xb.shape == (5, 1) and yb.tolist() == [0, 1, 4, 9, 16]


def test_random_split_and_subset():
    ds = TensorDataset(kiln.arange(10))
    a, b = random_split(ds, [7, 3], seed=1)
    got = sorted(v for part in (a, b) for i in range(len(part)) for v in part[i][0].reshape(1).tolist())
    assert got == list(range(10)) and len(a) == 7
    assert [len(p) for p in random_split(ds, [0.5, 0.5])] == [5, 5]
    with pytest.raises(ValueError):
        random_split(ds, [5, 6])
    sub = Subset(ds, [9, 0])
    assert next(iter(DataLoader(sub, batch_size=2)))[0].tolist() == [9, 0]


def test_bad_arguments():
    ds = TensorDataset(kiln.arange(3))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(kiln.arange(3), kiln.arange(4))


@pytest.mark.skipif(not os.path.isdir(kiln.datasets.FashionMNIST.root_default),
                    reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_test_split():
    ds = kiln.datasets.FashionMNIST(train=False)
    assert len(ds) == 10000
    x, y = ds.get_batch([0, 1])
    assert x.shape == (2, 1, 28, 28) and x.dtype == kiln.float32 and y.dtype == kiln.int64
    assert 0 <= y.amin().item() and y.amax().item() <= 9
    with pytest.raises(RuntimeError, match="dataset-fashion-mnist"):
        kiln.datasets.FashionMNIST("/nonexistent/fashion")
