# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils.data: Dataset, TensorDataset, Subset, random_split and DataLoader, as
torch.utils.data names them. A TensorDataset hands out whole batches with one gather per
tensor (a C++ index_select), not one Python call per sample."""
import random

import kiln as _kiln

_C = _kiln._C


class Dataset:
    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor (which share their first dim)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError("Size mismatch between tensors: first dims "
                             f"{[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        idx = _kiln.tensor(indices, dtype=_kiln.int64)
        return tuple(t[idx] for t in self.tensors)


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        inner = [self.indices[i] for i in indices]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return default_collate([self.dataset[i] for i in inner])


def random_split(dataset, lengths, seed=0):
    """Splits into non-overlapping Subsets of the given lengths (or fractions summing to
    1), in an order that depends only on `seed`."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-9:
        counts = [int(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start:start + length]))
        start += length
    return out


def default_collate(samples):
    """Stacks tensors (and numbers) sample-wise; tuples of them field by field."""
    first = samples[0]
    if isinstance(first, _C.Tensor):
        return _kiln.stack(list(samples))
    if isinstance(first, (int, float, bool)):
        return _kiln.tensor(list(samples))
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(field)) for field in zip(*samples))
    raise TypeError(f"default_collate: unsupported sample type {type(first).__name__}")


class DataLoader:
    """Batches of a dataset: batch_size, shuffle (a new order each epoch, fixed by `seed`),
    drop_last and collate_fn. Datasets with get_batch (TensorDataset, Subset) build each
    batch in one gather."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 seed=0):
        if batch_size is None or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self.seed, self.epoch = seed, 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = list(range(len(self.dataset)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        self.epoch += 1
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            idx = order[start:start + self.batch_size]
            if hasattr(self.dataset, "get_batch") and self.collate_fn is default_collate:
                yield self.dataset.get_batch(idx)
            else:
                yield self.collate_fn([self.dataset[i] for i in idx])
