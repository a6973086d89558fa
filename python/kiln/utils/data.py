# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils.data: Dataset, TensorDataset, Subset, random_split, DataLoader (with worker
threads) and get_worker_info, as torch.utils.data names them. A TensorDataset hands out
whole batches with one gather per tensor (a C++ index_select), not one Python call per
sample."""
import queue
import random
import threading

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


class WorkerInfo:
    """What get_worker_info() returns inside a worker: its id, the number of workers, its
    seed (base seed + id, for a worker_init_fn to seed its own generators) and the
    dataset."""

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002  (torch's name)
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={type(self.dataset).__name__})")


_worker_local = threading.local()


def get_worker_info():
    """torch.utils.data.get_worker_info: the WorkerInfo of the calling DataLoader worker
    thread, None in any other thread."""
    return getattr(_worker_local, "info", None)


# Note [DataLoader worker threads]
# torch's workers are processes; kiln's are threads of the calling process. Worker w
# builds batches w, w + n, w + 2n... (each a list of indices the main thread drew from the
# epoch's order), at most prefetch_factor * n batches ahead of the one the loop is on; the
# main thread hands them out in order, so the sequence of batches is the same for any
# num_workers. A batch whose building raised re-raises the worker's exception when the
# loop reaches it. A thread needs no pickling and shares the dataset's memory, but runs
# Python under the GIL: workers overlap with the training step only while one side is in
# code that releases it (kiln's backward, optimizer updates, safetensors io; file reads,
# numpy). The threads hold only their queues and the fetch function, never the DataLoader,
# so a loader that goes away takes its persistent workers with it.


def _worker_loop(wid, info, init_fn, fetch, tasks, results, generation):
    _worker_local.info = info
    init_error = None
    if init_fn is not None:
        try:
            init_fn(wid)
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            init_error = e
    while True:
        task = tasks.get()
        if task is None:
            return
        gen, k, indices = task
        if gen != generation[0]:
            continue  # an abandoned epoch's batch
        if init_error is not None:
            results.put((gen, k, wid, False, init_error))
            continue
        try:
            results.put((gen, k, wid, True, fetch(indices)))
        except BaseException as e:  # noqa: BLE001
            results.put((gen, k, wid, False, e))


class _WorkerPool:
    def __init__(self, n, fetch, init_fn, base_seed, dataset):
        self.n = n
        self.tasks = [queue.SimpleQueue() for _ in range(n)]
        self.results = queue.SimpleQueue()
        self.generation = [0]  # shared with the threads: tasks of older generations are dropped
        self.threads = []
        for w in range(n):
            info = WorkerInfo(w, n, base_seed + w, dataset)
            t = threading.Thread(target=_worker_loop, name=f"kiln-DataLoader-worker-{w}",
                                 args=(w, info, init_fn, fetch, self.tasks[w], self.results,
                                       self.generation), daemon=True)
            t.start()
            self.threads.append(t)

    def alive(self):
        return all(t.is_alive() for t in self.threads)

    def shutdown(self, join=True):
        self.generation[0] += 1
        for q in self.tasks:
            q.put(None)
        if join:
            for t in self.threads:
                t.join()

    def __del__(self):
        self.shutdown(join=False)


class DataLoader:
    """Batches of a dataset: batch_size, shuffle (a new order each epoch, fixed by `seed`
    or drawn from `generator`, a random.Random), drop_last and collate_fn. Datasets with
    get_batch (TensorDataset, Subset) build each batch in one gather.

    num_workers > 0 builds batches ahead in that many worker threads (Note [DataLoader
    worker threads]): prefetch_factor batches per worker, persistent_workers keeps the
    threads across epochs, worker_init_fn(worker_id) runs first in each, and timeout (s)
    bounds the wait for one batch. The batches are the same, in the same order, for every
    num_workers."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 seed=0, *, num_workers=0, prefetch_factor=None, persistent_workers=False,
                 worker_init_fn=None, generator=None, timeout=0):
        if batch_size is None or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multithreading.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multithreading."
                             "let num_workers > 0 to enable multithreading.")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor should be a positive integer, got "
                             f"{prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self.seed, self.epoch = seed, 0
        self.generator = generator
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.timeout = timeout
        self._pool = None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self):
        order = list(range(len(self.dataset)))
        if self.shuffle:
            rng = self.generator or random.Random(self.seed * 1_000_003 + self.epoch)
            rng.shuffle(order)
        self.epoch += 1
        stop = min(len(self) * self.batch_size, len(order))
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def _fetch_fn(self):
        dataset, collate = self.dataset, self.collate_fn
        if hasattr(dataset, "get_batch") and collate is default_collate:
            return dataset.get_batch
        return lambda indices: collate([dataset[i] for i in indices])

    def __iter__(self):
        batches = self._batches()
        if self.num_workers == 0:
            return map(self._fetch_fn(), batches)
        return self._threaded(batches)

    def _threaded(self, batches):
        pool = self._pool
        if pool is None or not pool.alive():
            # Not drawn from `generator`: that would change the next epochs' orders.
            base_seed = random.Random(self.seed * 1_000_003 + self.epoch).getrandbits(63)
            pool = _WorkerPool(self.num_workers, self._fetch_fn(), self.worker_init_fn,
                               base_seed, self.dataset)
            if self.persistent_workers:
                self._pool = pool
        pool.generation[0] += 1
        gen, n, ahead = pool.generation[0], pool.n, self.prefetch_factor * pool.n
        ready, sent = {}, 0
        try:
            for k in range(len(batches)):
                if pool.generation[0] != gen:
                    raise RuntimeError("this DataLoader iterator was superseded by a newer one "
                                       "over the same persistent workers")
                while sent < len(batches) and sent < k + ahead:
                    pool.tasks[sent % n].put((gen, sent, batches[sent]))
                    sent += 1
                while k not in ready:
                    try:
                        g, j, wid, ok, value = pool.results.get(timeout=self.timeout or None)
                    except queue.Empty:
                        raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds "
                                           f"waiting for batch {k}") from None
                    if g == gen:
                        ready[j] = (wid, ok, value)
                wid, ok, value = ready.pop(k)
                if not ok:
                    value.add_note(f"(raised in DataLoader worker thread {wid} while building "
                                   f"batch {k})")
                    raise value
                yield value
        finally:
            if self._pool is not pool:
                pool.shutdown()
            elif pool.generation[0] == gen:
                pool.generation[0] += 1  # drop what is still queued; the threads stay
