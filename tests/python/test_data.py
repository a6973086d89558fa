# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils.data and kiln.datasets: batches, order, determinism, splits, worker threads
(order, errors, early exit, prefetch, persistence), Fashion-MNIST."""
import gc
import os
import random
import threading
import time

import pytest

import kiln
from kiln.utils.data import (DataLoader, Dataset, Subset, TensorDataset, get_worker_info,
                             random_split)


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


# ---- worker threads ---------------------------------------------------------------------


def worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("kiln-DataLoader-worker")]


def wait_until(cond, seconds=5.0):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


class Recording(Dataset):
    """Samples i -> (tensor [i], i); records which threads built them, optionally slowly
    or failing at one index."""

    def __init__(self, n, delay=0.0, fail_at=None):
        self.n, self.delay, self.fail_at = n, delay, fail_at
        self.threads, self.count = set(), 0
        self.lock = threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.threads.add(threading.get_ident())
            self.count += 1
        if self.delay:
            time.sleep(self.delay)
        if i == self.fail_at:
            raise KeyError(f"sample {i} is broken")
        return kiln.tensor([float(i)]), i


def flat(loader):
    return [[v for t in b for v in t.reshape(-1).tolist()] for b in loader]


@pytest.mark.parametrize("make", [lambda: TensorDataset(kiln.arange(50), kiln.arange(50) * 2),
                                  lambda: Recording(50)], ids=["tensor", "python"])
def test_batches_are_the_same_for_any_number_of_workers(make):
    want = None
    for workers in (0, 1, 2, 3):
        loader = DataLoader(make(), batch_size=6, shuffle=True, seed=7, num_workers=workers)
        epochs = [flat(loader), flat(loader)]
        assert epochs[0] != epochs[1]
        if want is None:
            want = epochs
        assert epochs == want, workers
    assert not worker_threads()  # joined at the end of each epoch


def test_generator_fixes_the_order():
    ds = TensorDataset(kiln.arange(20))
    runs = [flat(DataLoader(ds, batch_size=4, shuffle=True, generator=random.Random(5),
                            num_workers=w)) for w in (0, 2)]
    assert runs[0] == runs[1] and sorted(v for b in runs[0] for v in b) == list(range(20))


def test_worker_exception_is_raised_at_its_batch():
    loader = DataLoader(Recording(20, fail_at=9), batch_size=4, num_workers=3)
    got = []
    with pytest.raises(KeyError, match="sample 9 is broken") as info:
        for xb, _ in loader:
            got.append(xb.reshape(-1).tolist())
    assert got == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]  # the batches before it
    assert any("worker thread 2" in n and "batch 2" in n for n in info.value.__notes__)
    assert wait_until(lambda: not worker_threads())


def test_break_stops_and_joins_the_workers():
    ds = Recording(400, delay=0.002)
    start = time.monotonic()
    for i, _ in enumerate(DataLoader(ds, batch_size=4, num_workers=4)):
        if i == 2:
            break
    assert not worker_threads()  # joined when the loop let go of the iterator
    assert time.monotonic() - start < 5 and ds.count < 400
    it = iter(DataLoader(ds, batch_size=4, num_workers=2))
    next(it)
    assert worker_threads()
    del it  # an abandoned iterator also stops its workers
    assert wait_until(lambda: not worker_threads())


def test_prefetch_is_bounded():
    ds = Recording(100)
    it = iter(DataLoader(ds, batch_size=1, num_workers=2, prefetch_factor=1))
    next(it)
    assert wait_until(lambda: ds.count == 2)
    time.sleep(0.1)
    assert ds.count == 2  # batches 0 and 1: prefetch_factor * num_workers ahead
    next(it)
    assert wait_until(lambda: ds.count == 3)
    time.sleep(0.1)
    assert ds.count == 3
    it.close()
    assert not worker_threads()


def test_persistent_workers_are_reused_and_end_with_the_loader():
    ds = Recording(30)
    loader = DataLoader(ds, batch_size=5, num_workers=2, persistent_workers=True)
    flat(loader)
    first = set(t.ident for t in worker_threads())
    for _, _ in zip(range(2), loader):  # an epoch abandoned half way
        pass
    assert flat(loader) == flat(DataLoader(Recording(30), batch_size=5))
    assert set(t.ident for t in worker_threads()) == first and len(first) == 2
    assert ds.threads <= first
    # A second iterator over the same workers supersedes the first, which says so.
    old = iter(loader)
    next(old)
    new = iter(loader)
    assert len(list(new)) == 6
    with pytest.raises(RuntimeError, match="superseded"):
        next(old)
    del old, new
    assert flat(loader) == flat(DataLoader(Recording(30), batch_size=5))
    del loader
    gc.collect()
    assert wait_until(lambda: not worker_threads())


def test_worker_init_fn_and_worker_info():
    seen = []

    def init(worker_id):
        info = get_worker_info()
        seen.append((worker_id, info.id, info.num_workers, info.seed - worker_id))

    class Tagged(Recording):
        def __getitem__(self, i):
            info = get_worker_info()
            return kiln.tensor([float(i)]), info.id

    batches = list(DataLoader(Tagged(12), batch_size=3, num_workers=3, worker_init_fn=init))
    assert sorted(s[:3] for s in seen) == [(0, 0, 3), (1, 1, 3), (2, 2, 3)]
    assert len({s[3] for s in seen}) == 1  # one base seed, worker seeds base + id
    assert [b[1].tolist() for b in batches] == [[0] * 3, [1] * 3, [2] * 3, [0] * 3]
    assert get_worker_info() is None

    def broken(worker_id):
        raise RuntimeError(f"init of {worker_id} failed")

    with pytest.raises(RuntimeError, match="init of 0 failed"):
        list(DataLoader(Recording(4), batch_size=2, num_workers=2, worker_init_fn=broken))


def test_timeout_and_bad_worker_arguments():
    with pytest.raises(RuntimeError, match="timed out after 0.05 seconds"):
        list(DataLoader(Recording(4, delay=0.5), batch_size=2, num_workers=1, timeout=0.05))
    assert wait_until(lambda: not worker_threads())
    ds = TensorDataset(kiln.arange(3))
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
