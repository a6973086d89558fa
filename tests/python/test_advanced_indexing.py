# SPDX-License-Identifier: BSD-3-Clause
"""Several advanced indices in one expression, for reading, assignment and gradients:
random index expressions on random shapes (sizes 0 and 1, non-contiguous inputs) against
torch, and against numpy where numpy and torch agree (no int beside an advanced index);
index_put_ with accumulate; the rules where torch and numpy differ."""
import numpy as np
import pytest

import kiln

torch = pytest.importorskip("torch")


def idx_tensor(lib, a):
    return kiln.tensor(a) if lib == "kiln" else torch.from_numpy(np.array(a))


class RandomIndex:
    """A random index for a tensor of `shape`: items are ("int", i), ("slice", s),
    ("none",), ("ellipsis",), ("bool", b), ("arr", positions) or ("mask", array)."""

    def __init__(self, rng, shape, allow_ints=True):
        ndim = len(shape)
        n_named = int(rng.integers(0, ndim + 1))
        # The dims the items name, in order; an Ellipsis (at item position `ell`) stands for
        # the dims between the first `ell` and the last n_named - ell.
        ell = int(rng.integers(0, n_named + 1)) if rng.random() < 0.25 else None
        if ell is None:
            named = list(range(n_named))
        else:
            named = list(range(ell)) + list(range(ndim - (n_named - ell), ndim))
        b_shape = tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(0, 3)))
        nnz = None  # a mask's count, which every positions tensor must then broadcast with
        self.items = []
        k = 0
        while k < len(named):
            if ell is not None and k == ell:
                self.items.append(("ellipsis",))
                ell = None
            d, size = named[k], shape[named[k]]
            r = rng.random()
            if r < 0.08:
                self.items.append(("none",))
                continue
            if r < 0.13:
                self.items.append(("bool", bool(rng.random() < 0.7)))
                continue
            has_arr = any(it[0] == "arr" for it in self.items)
            if r < 0.3 and allow_ints and size > 0:
                self.items.append(("int", int(rng.integers(-size, size))))
            elif r < 0.5:
                lo, hi = (int(v) for v in rng.integers(-size - 1, size + 2, size=2))
                self.items.append(("slice", slice(lo if rng.random() < 0.7 else None,
                                                  hi if rng.random() < 0.7 else None,
                                                  int(rng.integers(1, 4)))))
            elif r < 0.6 and nnz is None and not has_arr:
                two = k + 1 < len(named) and named[k + 1] == d + 1 and rng.random() < 0.5
                m = rng.random(shape[d:d + (2 if two else 1)]) < 0.5
                nnz = int(m.sum())
                self.items.append(("mask", m))
                k += 2 if two else 1
                continue
            elif size > 0:
                target = (nnz,) if nnz is not None else b_shape
                s = tuple(1 if rng.random() < 0.3 else t for t in target)
                if rng.random() < 0.3:
                    s = s[int(rng.integers(0, len(s) + 1)):]
                self.items.append(("arr", rng.integers(-size, size, size=s)))
            else:
                self.items.append(("slice", slice(None)))
            k += 1
        if ell is not None:
            self.items.append(("ellipsis",))
        # torch 1.13 moves on by one dim after a mask over k > 1 dims, so the items after it
        # index dims the mask covers (and the shapes usually disagree). kiln follows numpy.
        masks = [i for i, it in enumerate(self.items) if it[0] == "mask" and it[1].ndim > 1]
        self.torch_differs = bool(masks) and masks[0] + 1 < len(self.items)
        # numpy counts ints and 0-d positions as advanced indices; torch selects with them.
        self.has_int = any(it[0] == "int" or (it[0] == "arr" and it[1].ndim == 0)
                           for it in self.items)

    def build(self, lib):
        out = []
        for it in self.items:
            kind = it[0]
            if kind == "int":
                out.append(it[1])
            elif kind == "slice":
                out.append(it[1])
            elif kind == "none":
                out.append(None)
            elif kind == "ellipsis":
                out.append(Ellipsis)
            elif kind == "bool":
                out.append(it[1])
            elif kind == "arr":
                out.append(idx_tensor(lib, it[1]) if lib != "numpy" else it[1])
            elif kind == "mask":
                out.append(idx_tensor(lib, it[1]) if lib != "numpy" else it[1])
        return tuple(out)

    def __repr__(self):
        return repr(self.build("numpy"))


def random_source(rng, shape, dtype=np.float64):
    """A random array of `shape`, and the kiln tensor of it, sometimes non-contiguous."""
    a = rng.standard_normal(shape).astype(dtype) if dtype != np.int64 else \
        rng.integers(-100, 100, size=shape)
    kind = rng.integers(0, 3)
    if kind == 1 and len(shape) >= 2:
        k = kiln.tensor(np.ascontiguousarray(np.swapaxes(a, 0, 1))).transpose(0, 1)
    elif kind == 2 and len(shape) >= 1:
        big = np.repeat(a, 2, axis=0)
        k = kiln.tensor(big)[::2]
    else:
        k = kiln.tensor(a)
    return a, k


SHAPES = [(0,), (1,), (4,), (3, 0), (1, 1), (3, 4), (2, 3, 4), (4, 1, 3), (2, 3, 0, 2),
          (3, 2, 4, 2), (2, 1, 3, 2, 2)]


def try_index(fn):
    try:
        return fn(), None
    except (IndexError, RuntimeError, ValueError) as e:
        return None, type(e)


@pytest.mark.parametrize("seed", range(40))
def test_random_getitem_matches_torch_and_numpy(seed):
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        for _ in range(6):
            ix = RandomIndex(rng, shape)
            a, k = random_source(rng, shape)
            t = torch.from_numpy(a)
            want, terr = try_index(lambda: t[ix.build("torch")])
            got, kerr = try_index(lambda: k[ix.build("kiln")])
            if ix.torch_differs:
                if not ix.has_int:
                    want_np, nerr = try_index(lambda: a[ix.build("numpy")])
                    assert kerr == nerr, (shape, ix, kerr, nerr)
                    if want_np is not None:
                        np.testing.assert_array_equal(got.numpy(), want_np)
                continue
            assert kerr == terr, (shape, ix, kerr, terr)
            if want is None:
                continue
            assert got.shape == tuple(want.shape), (shape, ix)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=repr(ix))
            if not ix.has_int:  # numpy and torch agree then
                np.testing.assert_array_equal(got.numpy(), a[ix.build("numpy")])


@pytest.mark.parametrize("seed", range(40))
def test_random_setitem_matches_torch(seed):
    rng = np.random.default_rng(100 + seed)
    for shape in SHAPES:
        for _ in range(6):
            ix = RandomIndex(rng, shape)
            if ix.torch_differs:
                continue
            a, k = random_source(rng, shape)
            t = torch.from_numpy(a.copy())
            region, err = try_index(lambda: t[ix.build("torch")])
            if region is None:
                continue
            # A value that depends only on the written element, so that duplicate positions
            # write the same thing whatever order they are written in.
            value = (region * 2 + 1).numpy()
            form = rng.integers(0, 3)
            if form == 0 or value.ndim == 0:
                v = value
            elif form == 1:
                v = value[None]  # a leading dim of 1 is dropped, as in torch
            else:
                v = value
            t[ix.build("torch")] = torch.from_numpy(v.copy())
            k[ix.build("kiln")] = kiln.tensor(v)
            np.testing.assert_array_equal(k.numpy(), t.numpy(), err_msg=repr(ix))
            # A number, broadcast to every indexed element.
            t[ix.build("torch")] = 7.5
            k[ix.build("kiln")] = 7.5
            np.testing.assert_array_equal(k.numpy(), t.numpy(), err_msg=repr(ix))


@pytest.mark.parametrize("seed", range(20))
def test_random_gradients_match_torch(seed):
    rng = np.random.default_rng(200 + seed)
    for shape in SHAPES:
        for _ in range(4):
            ix = RandomIndex(rng, shape)
            if ix.torch_differs:
                continue
            a = rng.standard_normal(shape)
            t = torch.tensor(a, requires_grad=True)
            region, err = try_index(lambda: t[ix.build("torch")])
            if region is None:
                continue
            w = rng.standard_normal(tuple(region.shape))
            (region * torch.from_numpy(w)).sum().backward()
            k = kiln.tensor(a, dtype=kiln.float64, requires_grad=True)
            (k[ix.build("kiln")] * kiln.tensor(w)).sum().backward()
            got = k.grad.numpy() if k.grad is not None else np.zeros(shape)
            np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=0,
                                       err_msg=repr(ix))

            # Assignment: x (not a leaf) and the value both get gradients.
            x0t = torch.tensor(a, requires_grad=True)
            vt = torch.tensor(rng.standard_normal(tuple(region.shape)), requires_grad=True)
            xt = x0t * 1.0
            xt[ix.build("torch")] = vt
            wt = rng.standard_normal(shape)
            (xt * torch.from_numpy(wt)).sum().backward()
            x0k = kiln.tensor(a, dtype=kiln.float64, requires_grad=True)
            vk = kiln.tensor(vt.detach().numpy(), dtype=kiln.float64, requires_grad=True)
            xk = x0k * 1.0
            xk[ix.build("kiln")] = vk
            np.testing.assert_array_equal(xk.detach().numpy(), xt.detach().numpy())
            (xk * kiln.tensor(wt)).sum().backward()
            np.testing.assert_allclose(x0k.grad.numpy(), x0t.grad.numpy(), rtol=1e-12,
                                       err_msg=repr(ix))
            gv = vk.grad.numpy() if vk.grad is not None else np.zeros(vk.shape)
            np.testing.assert_allclose(gv, vt.grad.numpy(), rtol=1e-12, atol=1e-12,
                                       err_msg=repr(ix))


def test_rules_where_torch_and_numpy_differ():
    a = np.arange(5 * 6 * 7 * 8).reshape(5, 6, 7, 8)
    k, t = kiln.tensor(a), torch.from_numpy(a)
    # An int among advanced indices is a select (torch), not an advanced index (numpy).
    for ix in [(0, slice(None), [1, 2]), (slice(None), 0, slice(None), [1, 2]),
               (slice(None), [0, 1], Ellipsis, [1, 2], slice(None))]:
        got, want = k[ix], t[ix]
        assert got.shape == tuple(want.shape) != a[ix].shape, ix
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    # A list of sequences is a tuple of indices (torch's legacy rule).
    assert k[[[0, 1], [1, 2]]].shape == (2, 7, 8)
    np.testing.assert_array_equal(k[[[0, 1], [1, 2]]].numpy(), t[[[0, 1], [1, 2]]].numpy())
    # A 0-d integer tensor is an int; a uint8 tensor is a mask.
    np.testing.assert_array_equal(k[kiln.tensor(2), [0, 1]].numpy(),
                                  t[torch.tensor(2), [0, 1]].numpy())
    m = np.array([1, 0, 1, 0, 0], dtype=np.uint8)
    np.testing.assert_array_equal(k[kiln.tensor(m)].numpy(), a[m.astype(bool)])


def test_adjacent_and_separated_advanced_indices():
    a = np.arange(2 * 5 * 6 * 7).reshape(2, 5, 6, 7)
    k = kiln.tensor(a)
    i, j = np.array([[0, 4], [1, 3]]), np.array([2, 5])
    # Adjacent: the broadcast shape [2, 2] replaces dims 1 and 2 in place.
    assert k[:, i, j].shape == (2, 2, 2, 7)
    np.testing.assert_array_equal(k[:, kiln.tensor(i), kiln.tensor(j)].numpy(), a[:, i, j])
    # Separated by a slice: it goes first.
    assert k[:, i, :, j].shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(k[:, kiln.tensor(i), :, kiln.tensor(j)].numpy(), a[:, i, :, j])
    # Separated by None: first as well.
    np.testing.assert_array_equal(k[:, i, None, j].numpy(), a[:, i, None, j])
    # Masks count as their nonzero() positions.
    m = a[0, :, :, 0] % 3 == 0
    np.testing.assert_array_equal(k[:, kiln.tensor(m), [1]].numpy(), a[:, m, [1]])


def test_setitem_with_duplicates_and_index_put():
    k = kiln.zeros(3, 4)
    k[[0, 0, 0], [1, 1, 1]] = kiln.tensor([1.0, 2.0, 3.0])
    assert k[0, 1].item() == 3.0  # the last one wins (numpy's order; torch leaves it open)
    k = kiln.zeros(3, 4, dtype=kiln.int64)
    idx = (kiln.tensor([0, 2, 0, 0]), kiln.tensor([1, 3, 1, 1]))
    k.index_put_(idx, kiln.tensor([1, 10, 100, 1000]), accumulate=True)
    assert k[0, 1].item() == 1101 and k[2, 3].item() == 10
    out = k.index_put_(idx, kiln.tensor(5), accumulate=True)
    assert out is k and k[0, 1].item() == 1116
    # Out of place, with None for a whole dim and a mask.
    x = kiln.arange(12.0).reshape(3, 4)
    t = torch.arange(12.0).reshape(3, 4)
    got = x.index_put((None, kiln.tensor([0, 3])), kiln.tensor(-1.0))
    want = t.index_put((torch.tensor([0, 1, 2]).view(3, 1), torch.tensor([0, 3])),
                       torch.tensor(-1.0))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert x[0, 0].item() == 0.0
    mask = kiln.tensor([[True, False, False, True]] * 3)
    np.testing.assert_array_equal(kiln.index_put(x, (mask,), kiln.tensor(9.0)).numpy(),
                                  np.where(mask.numpy(), 9.0, x.numpy()))
    # Accumulated float sums of duplicates against torch.
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 6))
    rows = rng.integers(0, 5, size=40)
    cols = rng.integers(-6, 6, size=40)
    vals = rng.standard_normal(40)
    kx = kiln.tensor(a)
    kx.index_put_((kiln.tensor(rows), kiln.tensor(cols)), kiln.tensor(vals), accumulate=True)
    tx = torch.tensor(a)
    tx.index_put_((torch.tensor(rows), torch.tensor(cols)), torch.tensor(vals), accumulate=True)
    np.testing.assert_allclose(kx.numpy(), tx.numpy(), rtol=1e-12)


def test_index_put_gradients_match_torch():
    rng = np.random.default_rng(5)
    a, v = rng.standard_normal((4, 5)), rng.standard_normal((3,))
    idx = ([0, 2, 0], [1, 4, 1])
    for acc in [False, True]:
        xk = kiln.tensor(a, requires_grad=True)
        vk = kiln.tensor(v, requires_grad=True)
        xt = torch.tensor(a, requires_grad=True)
        vt = torch.tensor(v, requires_grad=True)
        w = rng.standard_normal((4, 5))
        yk = xk.index_put(tuple(kiln.tensor(i) for i in idx), vk, accumulate=acc)
        yt = xt.index_put(tuple(torch.tensor(i) for i in idx), vt, accumulate=acc)
        if acc:
            np.testing.assert_allclose(yk.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
        (yk * kiln.tensor(w)).sum().backward()
        (yt * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(xk.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(vk.grad.numpy(), vt.grad.numpy(), rtol=1e-12)
        # In place on a tensor in the graph, as torch allows.
        x0 = kiln.tensor(a, requires_grad=True)
        x = x0 * 2.0
        x.index_put_(tuple(kiln.tensor(i) for i in idx), vk, accumulate=acc)
        (x * kiln.tensor(w)).sum().backward()
        x0t = torch.tensor(a, requires_grad=True)
        xt2 = x0t * 2.0
        xt2.index_put_(tuple(torch.tensor(i) for i in idx), vt, accumulate=acc)
        (xt2 * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x0.grad.numpy(), x0t.grad.numpy(), rtol=1e-12)


def test_second_order_gradients_through_indexing():
    a = np.array([[0.5, -1.0, 2.0], [1.5, 3.0, -2.0]])
    idx = ([0, 1, 0], [2, 0, 2])
    xk = kiln.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    (gk,) = kiln.autograd.grad((xk[idx] ** 3).sum(), xk, create_graph=True)
    (gt,) = torch.autograd.grad((xt[idx] ** 3).sum(), xt, create_graph=True)
    np.testing.assert_allclose(gk.detach().numpy(), gt.detach().numpy(), rtol=1e-12)
    (hk,) = kiln.autograd.grad((gk * gk).sum(), xk)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(hk.numpy(), ht.numpy(), rtol=1e-12)


def test_assignment_history_rules():
    v = kiln.tensor([1.0, 2.0], requires_grad=True)
    # Into a fresh tensor: out[...] = v builds a tensor from parts, as in torch.
    out = kiln.zeros(2, 3)
    out[:, 0] = v
    out[[0, 1], [2, 2]] = v * 3
    out.sum().backward()
    assert v.grad.tolist() == [4.0, 4.0]
    assert out.grad_fn is not None and out.requires_grad
    # A leaf that requires grad is refused, as in torch (fine under no_grad).
    leaf = kiln.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[0] = 1.0
    with kiln.no_grad():
        leaf[0] = 1.0
    assert leaf[0].tolist() == [1.0, 1.0, 1.0] and leaf.grad_fn is None
    # A view of a tensor in the graph: index the base in one expression instead.
    y = leaf * 2
    with pytest.raises(RuntimeError, match="view"):
        y[0][1:] = v
    y[0, 1:] = v
    # Memory shared with another tensor (here a view of it) would leave that one's
    # history stale: refused.
    z = kiln.zeros(2, 3)
    row = z[0]
    with pytest.raises(RuntimeError, match="shares its memory"):
        z[1] = v[:1].expand(3) if False else kiln.tensor([1.0, 1.0, 1.0], requires_grad=True)
    del row
    # Without autograd in play, writes through views are plain writes.
    z = kiln.zeros(2, 3)
    z[0][[0, 2]] = 5.0
    assert z.tolist() == [[5.0, 0.0, 5.0], [0.0, 0.0, 0.0]]


def test_saved_indices_are_version_checked():
    x = kiln.tensor([1.0, 2.0, 3.0], requires_grad=True)
    i = kiln.tensor([0, 2])
    y = x[i]
    i[0] = 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_errors():
    k = kiln.zeros(3, 4)
    with pytest.raises(IndexError, match="could not be broadcast together"):
        k[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        k[[0, 1], [0, 4]]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0"):
        k[[-4]]
    with pytest.raises(RuntimeError, match="shape mismatch"):
        k[[0, 1], [1, 2]] = kiln.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="shape mismatch"):
        k[0] = kiln.tensor([1.0, 2.0])
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        k[kiln.tensor([0.0])]
    # Empty index lists select nothing.
    assert k[[]].shape == (0, 4) and k[:, []].shape == (3, 0)
    assert kiln.zeros(0, 3)[[], [1]].shape == (0,)
