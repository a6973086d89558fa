# SPDX-License-Identifier: BSD-3-Clause
"""kiln's remaining elementwise functions, scans, reductions and op library (gather,
scatter, masks, sort, topk, unique, flip, split, tril, products, ...) against numpy and
torch: values, dtypes, size-0/1 and non-contiguous inputs, negative dims, in-place forms,
errors and gradients."""
import numpy as np
import pytest

import kiln

try:
    import torch
except ImportError:  # the numpy checks still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
rng = np.random.default_rng(7)


def K(a, noncontig=False, requires_grad=False):
    """A kiln tensor of array a; with noncontig, a transposed view holding a's values."""
    a = np.asarray(a)
    if not noncontig or a.ndim < 2:
        return kiln.tensor(a, requires_grad=requires_grad)
    perm = list(range(a.ndim))[::-1]
    base = kiln.tensor(np.ascontiguousarray(a.transpose(perm)), requires_grad=requires_grad)
    view = base.permute(*perm)
    assert view.is_contiguous() == (sum(n > 1 for n in a.shape) < 2)
    return view


def T(a):
    return torch.from_numpy(np.array(a))


def dtype_name(dt):
    return str(dt).split(".")[-1]


def assert_same(k, t, rtol=1e-6, atol=1e-7):
    """Compares a kiln result with torch's: tensors (values and dtype), tuples, numbers."""
    if isinstance(t, (tuple, list)):
        assert isinstance(k, (tuple, list)) and len(k) == len(t)
        if hasattr(t, "_fields"):
            assert k._fields == t._fields
        for a, b in zip(k, t):
            assert_same(a, b, rtol, atol)
        return
    if isinstance(t, torch.Tensor):
        assert dtype_name(k.dtype) == dtype_name(t.dtype), (k.dtype, t.dtype)
        assert tuple(k.shape) == tuple(t.shape)
        np.testing.assert_allclose(k.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
        return
    assert k == t


def randn(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ---- elementwise ----------------------------------------------------------------------------

UNARY_FLOAT = {
    "asin": np.arcsin, "arcsin": np.arcsin, "acos": np.arccos, "arccos": np.arccos,
    "atan": np.arctan, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "exp2": np.exp2,
    "reciprocal": np.reciprocal,
}
SHAPES = [(0,), (1,), (5,), (3, 4), (2, 3, 4)]


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("noncontig", [False, True])
def test_unary_float_functions_match_numpy(name, shape, noncontig):
    a = rng.uniform(-0.95, 0.95, shape) + (name == "reciprocal") * 2.0
    for dt, rtol in [(np.float64, 1e-12), (np.float32, 2e-6)]:
        x = a.astype(dt)
        want = UNARY_FLOAT[name](x)
        for got in (getattr(kiln, name)(K(x, noncontig)), getattr(K(x, noncontig), name)()):
            assert got.dtype == (kiln.float64 if dt == np.float64 else kiln.float32)
            np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
def test_unary_float_of_integers_is_float32(name):
    ints = np.array([-1, 0, 1, 2], dtype=np.int64)
    with np.errstate(all="ignore"):
        want = UNARY_FLOAT[name](ints.astype(np.float32))
    for dt in (np.int64, np.int32, np.uint8 if name != "acos" else np.int16):
        x = ints.astype(dt) if dt != np.uint8 else np.array([0, 1, 2], dtype=np.uint8)
        with np.errstate(all="ignore"):
            w = want if dt != np.uint8 else UNARY_FLOAT[name](x.astype(np.float32))
        got = getattr(kiln, name)(K(x))
        assert got.dtype == kiln.float32
        np.testing.assert_allclose(got.numpy(), w, rtol=2e-6)
    assert getattr(kiln, name)(K(np.array([True, False]))).dtype == kiln.float32


def test_neg_sign_trunc_keep_dtype():
    a = np.array([-2.5, -0.0, 0.0, 0.5, 3.7, np.nan])
    np.testing.assert_array_equal(kiln.neg(K(a)).numpy(), -a)
    np.testing.assert_array_equal(K(a).negative().numpy(), -a)
    np.testing.assert_array_equal(kiln.sign(K(a)).numpy(), np.sign(a))
    np.testing.assert_array_equal(kiln.trunc(K(a)).numpy(), np.trunc(a))
    np.testing.assert_array_equal(K(a).fix().numpy(), np.trunc(a))
    # sign keeps -0.0 (torch too)
    assert np.signbit(kiln.sign(K(np.array([-0.0]))).numpy()[0])
    i = np.array([[-3, 0, 4]], dtype=np.int32)
    for fn, want in [(kiln.neg, -i), (kiln.sign, np.sign(i)), (kiln.trunc, i)]:
        got = fn(K(i, noncontig=True))
        assert got.dtype == kiln.int32
        np.testing.assert_array_equal(got.numpy(), want)
    b = K(np.array([True, False]))
    assert kiln.sign(b).dtype == kiln.bool and kiln.sign(b).tolist() == [True, False]
    with pytest.raises(TypeError, match="bool"):
        kiln.neg(b)


def test_atan2_promotes_and_broadcasts():
    a, b = randn(3, 1), randn(1, 4)
    np.testing.assert_allclose(kiln.atan2(K(a), K(b)).numpy(), np.arctan2(a, b), rtol=1e-12)
    np.testing.assert_allclose(K(a).arctan2(K(b)).numpy(), np.arctan2(a, b), rtol=1e-12)
    r = kiln.atan2(K(np.array([1, -1])), K(np.array([0, 2])))
    assert r.dtype == kiln.float32
    np.testing.assert_allclose(r.numpy(), np.arctan2([1, -1], [0, 2]).astype(np.float32),
                               rtol=1e-6)
    assert kiln.atan2(K(a.astype(np.float32)), K(b)).dtype == kiln.float64


def test_logical_ops():
    a = np.array([0, 1, 2, 0], dtype=np.int64)
    b = np.array([0.0, 0.0, 1.5, np.nan])
    for name, fn in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                     ("logical_xor", np.logical_xor)]:
        got = getattr(kiln, name)(K(a), K(b))
        assert got.dtype == kiln.bool
        np.testing.assert_array_equal(got.numpy(), fn(a, b))
        np.testing.assert_array_equal(getattr(K(a), name)(K(b)).numpy(), fn(a, b))
    np.testing.assert_array_equal(kiln.logical_not(K(b)).numpy(), np.logical_not(b))
    np.testing.assert_array_equal(K(a).logical_not().numpy(), np.logical_not(a))


INPLACE = {
    "neg_": np.negative, "abs_": np.abs, "sign_": np.sign, "trunc_": np.trunc,
    "square_": np.square, "relu_": lambda x: np.maximum(x, 0), "floor_": np.floor,
    "ceil_": np.ceil, "round_": np.round, "sqrt_": np.sqrt, "rsqrt_": lambda x: 1 / np.sqrt(x),
    "reciprocal_": np.reciprocal, "exp_": np.exp, "exp2_": np.exp2, "expm1_": np.expm1,
    "log_": np.log, "log2_": np.log2, "log1p_": np.log1p, "sin_": np.sin, "cos_": np.cos,
    "tan_": np.tan, "asin_": np.arcsin, "acos_": np.arccos, "atan_": np.arctan,
    "sinh_": np.sinh, "cosh_": np.cosh, "tanh_": np.tanh,
    "sigmoid_": lambda x: 1 / (1 + np.exp(-x)),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_unary_writes_through_views(name):
    positive = name in ("sqrt_", "rsqrt_", "log_", "log2_", "log1p_", "reciprocal_")
    a = rng.uniform(0.1, 0.9, (3, 4)) if positive else rng.uniform(-0.9, 0.9, (3, 4))
    base = K(a)
    view = base.transpose(0, 1)[1:3]
    r = getattr(view, name)()
    want = a.copy()
    want[:, 1:3] = INPLACE[name](a[:, 1:3])
    np.testing.assert_allclose(base.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(r.numpy(), want[:, 1:3].T, rtol=1e-12)


def test_inplace_dtype_rules():
    i = K(np.array([-2, 3]))
    i.neg_()
    assert i.tolist() == [2, -3]
    i.abs_().square_()
    assert i.tolist() == [4, 9] and i.dtype == kiln.int64
    with pytest.raises(TypeError, match="can't be cast"):
        i.sqrt_()
    x = K(np.array([-1.0, 0.5, 2.0]))
    x.clamp_(min=0.0)
    assert x.tolist() == [0.0, 0.5, 2.0]
    x.clamp_(max=1.0)
    assert x.tolist() == [0.0, 0.5, 1.0]
    x.clamp_(0.25, 0.75)
    assert x.tolist() == [0.25, 0.5, 0.75]
    with pytest.raises(ValueError):
        x.clamp_()
    y = K(np.arange(6).reshape(2, 3))
    y[:, 1].fill_(7.9)  # a float fill of an integer tensor truncates, as torch's
    assert y.tolist() == [[0, 7, 2], [3, 7, 5]]
    y.fill_(K(np.array(-1)))
    assert y.tolist() == [[-1] * 3] * 2
    with pytest.raises(ValueError):
        y.fill_(K(np.array([1, 2])))
    leaf = kiln.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.exp_()


@needs_torch
@pytest.mark.parametrize("name", ["asin", "acos", "atan", "sinh", "cosh", "exp2",
                                  "reciprocal", "neg", "atan2"])
def test_elementwise_gradients_match_torch(name):
    a = rng.uniform(-0.9, 0.9, (3, 4))
    b = rng.uniform(0.5, 1.5, (3, 4))
    if name == "reciprocal":
        a = a + 2.0
    args = (a, b) if name == "atan2" else (a,)
    check_grads(lambda *xs: getattr(kiln, name)(*xs), lambda *xs: getattr(torch, name)(*xs), *args)


# ---- gradient helper ------------------------------------------------------------------------

def _floats(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out if dtype_name(o.dtype) == "float64"]
    return [out]


def check_grads(fk, ft, *arrays, rtol=1e-10, atol=1e-12, grad_of=None):
    """Compares d(sum(w * out))/d(inputs) of fk (kiln) and ft (torch) in float64."""
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    ks, ts = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        rg = i in grad_of and a.dtype == np.float64
        ks.append(kiln.tensor(a, requires_grad=rg))
        ts.append(torch.tensor(a, requires_grad=rg))
    ko, to = _floats(fk(*ks)), _floats(ft(*ts))
    assert len(ko) == len(to)
    lk, lt = None, None
    for k, t in zip(ko, to):
        w = rng.standard_normal(tuple(t.shape))
        sk, st = (k * kiln.tensor(w)).sum(), (t * torch.tensor(w)).sum()
        lk = sk if lk is None else lk + sk
        lt = st if lt is None else lt + st
    lk.backward()
    lt.backward()
    for k, t in zip(ks, ts):
        if t.requires_grad:
            assert k.grad is not None
            np.testing.assert_allclose(k.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


# ---- scans and reductions -------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape,dim", [((0,), 0), ((1,), -1), ((5,), 0), ((3, 4), 1),
                                       ((3, 4), -2), ((2, 3, 4), 1)])
def test_scans_match_torch(name, shape, dim):
    a = rng.uniform(0.5, 1.5, shape)
    for dt in (np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_):
        x = (a * 3).astype(dt) if dt != np.bool_ else a > 1
        for nc in (False, True):
            assert_same(getattr(kiln, name)(K(x, nc), dim), getattr(torch, name)(T(x), dim),
                        rtol=1e-5)
        assert_same(getattr(K(x), name)(dim, dtype=kiln.float64),
                    getattr(T(x), name)(dim, dtype=torch.float64), rtol=1e-12)


@needs_torch
def test_scan_and_reduction_gradients_match_torch():
    a = rng.uniform(0.5, 1.5, (3, 4))
    a[1, 2] = 0.0  # cumprod's gradient through a zero
    for name in ("cumsum", "cumprod"):
        check_grads(lambda x: getattr(kiln, name)(x, 1), lambda x: getattr(torch, name)(x, 1), a)
    check_grads(lambda x: kiln.logsumexp(x, (0, 1)), lambda x: torch.logsumexp(x, (0, 1)), a)
    check_grads(lambda x: kiln.norm(x, 3, 1), lambda x: torch.norm(x, 3, 1), a + 0.1)
    check_grads(lambda x: kiln.max(x, 1), lambda x: torch.max(x, 1), a)
    check_grads(lambda x: kiln.min(x, 0, True), lambda x: torch.min(x, 0, True), a)


@needs_torch
@pytest.mark.parametrize("dim,keepdim", [(0, False), (-1, True), ((0, 1), False), ([1], True)])
def test_logsumexp_and_norm_match_torch(dim, keepdim):
    a = randn(3, 4) * 10
    for nc in (False, True):
        assert_same(kiln.logsumexp(K(a, nc), dim, keepdim), torch.logsumexp(T(a), dim, keepdim),
                    rtol=1e-12)
        assert_same(K(a, nc).logsumexp(dim, keepdim=keepdim), T(a).logsumexp(dim, keepdim=keepdim),
                    rtol=1e-12)
    ai = a.astype(np.int64)
    assert_same(kiln.logsumexp(K(ai), dim), torch.logsumexp(T(ai).float(), dim), rtol=1e-5)
    for p in (1, 2, 3, 0.5, float("inf"), -float("inf"), 0, "fro"):
        assert_same(kiln.norm(K(a), p, dim, keepdim), torch.norm(T(a), p, dim, keepdim), rtol=1e-12)
    assert_same(kiln.norm(K(a)), torch.norm(T(a)), rtol=1e-12)
    assert_same(K(a.astype(np.float32)).norm(), T(a).float().norm(), rtol=1e-6)
    assert_same(kiln.norm(K(a), "nuc"), torch.norm(T(a), "nuc"), rtol=1e-12)
    with pytest.raises(TypeError):
        kiln.norm(K(np.arange(3)))


@needs_torch
def test_max_min_forms_match_torch():
    a = rng.integers(0, 4, (4, 5)).astype(np.float64)  # ties: the first index, as torch
    for fn in ("max", "min"):
        kf, tf = getattr(kiln, fn), getattr(torch, fn)
        assert_same(kf(K(a)), tf(T(a)))
        for dim in (0, 1, -1):
            for nc in (False, True):
                assert_same(kf(K(a, nc), dim), tf(T(a), dim))
                assert_same(getattr(K(a, nc), fn)(dim, keepdim=True),
                            getattr(T(a), fn)(dim, keepdim=True))
        b = randn(1, 5)
        assert_same(kf(K(a), K(b)), tf(T(a), T(b)))
        i = a.astype(np.int32)
        assert_same(kf(K(i), 1), tf(T(i), 1))
    r = kiln.max(K(a), 1)
    assert type(r).__name__ == "max" and r.values is r[0] and r.indices is r[1]
    with pytest.raises(IndexError):
        kiln.max(K(a), 2)
    with pytest.raises(ValueError):
        kiln.max(K(np.zeros((0, 3))), 0)


# ---- op library: index ----------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64, np.int16, np.bool_])
def test_gather_scatter_index_ops_match_torch(dt):
    a = (randn(4, 5) * 5).astype(dt)
    idx = rng.integers(0, 4, (3, 5))
    src = (randn(3, 5) * 5).astype(dt)
    for dim, ix in [(0, idx), (-1, rng.integers(0, 5, (4, 2))), (1, np.zeros((0, 2), np.int64))]:
        for nc in (False, True):
            assert_same(kiln.gather(K(a, nc), dim, K(ix)), torch.gather(T(a), dim, T(ix)))
            assert_same(K(a, nc).gather(dim, K(ix)), T(a).gather(dim, T(ix)))
    # scatter with a unique index per column (duplicates: kiln's last-wins is documented)
    perm = np.stack([rng.permutation(4)[:3] for _ in range(5)], 1)
    assert_same(kiln.scatter(K(a), 0, K(perm), K(src)), torch.scatter(T(a), 0, T(perm), T(src)))
    assert_same(K(a).scatter(0, K(perm), 1), T(a).scatter(0, T(perm), 1))
    if dt != np.bool_:  # torch has no bool scatter_add
        assert_same(kiln.scatter_add(K(a), 0, K(idx), K(src)),
                    torch.scatter_add(T(a), 0, T(idx), T(src)))
        x = K(a)
        x.scatter_add_(0, K(idx), K(src))
        assert_same(x, T(a).scatter_add_(0, T(idx), T(src)))
    x = K(a, noncontig=True)
    x.scatter_(0, K(perm), K(src))
    assert_same(x, T(a).scatter_(0, T(perm), T(src)))
    sel = np.array([3, 0, 3, 1])
    for dim in (0, 1, -1):
        assert_same(kiln.index_select(K(a), dim, K(sel)), torch.index_select(T(a), dim, T(sel)))
    if dt != np.bool_:
        s2 = (randn(4, 4) * 3).astype(dt)
        assert_same(kiln.index_add(K(a), 1, K(sel), K(s2)), torch.index_add(T(a), 1, T(sel), T(s2)))
        assert_same(K(a).index_add(1, K(sel), K(s2), alpha=2),
                    T(a).index_add(1, T(sel), T(s2), alpha=2))
        x = K(a)
        x.index_add_(1, K(sel), K(s2))
        assert_same(x, T(a).index_add_(1, T(sel), T(s2)))
    tix = rng.integers(0, 5, (4, 1))
    assert_same(kiln.take_along_dim(K(a), K(tix), 1), torch.take_along_dim(T(a), T(tix), 1))
    fl = rng.integers(0, 20, (6,))
    assert_same(K(a).take_along_dim(K(fl)), T(a).take_along_dim(T(fl)))


def test_index_ops_errors():
    a = K(randn(3, 4))
    with pytest.raises(TypeError, match="int64"):
        kiln.gather(a, 0, K(np.zeros((1, 4), np.int32)))
    with pytest.raises(IndexError):
        kiln.gather(a, 0, K(np.full((1, 4), 3)))
    with pytest.raises(IndexError):
        kiln.index_select(a, 2, K(np.array([0])))
    with pytest.raises(TypeError, match="same dtype"):
        kiln.scatter_add(a, 0, K(np.zeros((1, 4), np.int64)), K(np.ones((1, 4), np.float32)))
    with pytest.raises(TypeError, match="bool"):
        kiln.masked_fill(a, K(np.zeros((3, 4), np.int64)), 1.0)


@needs_torch
def test_index_op_gradients_match_torch():
    a, src = randn(4, 5), randn(3, 5)
    idx = rng.integers(0, 4, (3, 5))
    perm = np.stack([rng.permutation(4)[:3] for _ in range(5)], 1)
    sel = np.array([3, 0, 3])
    check_grads(lambda x, i: kiln.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i), a, idx)
    check_grads(lambda x, i, s: kiln.scatter(x, 0, i, s), lambda x, i, s: torch.scatter(x, 0, i, s),
                a, perm, src)
    check_grads(lambda x, i, s: kiln.scatter_add(x, 0, i, s),
                lambda x, i, s: torch.scatter_add(x, 0, i, s), a, idx, src)
    check_grads(lambda x, i: kiln.index_select(x, 0, i), lambda x, i: torch.index_select(x, 0, i),
                a, sel)
    check_grads(lambda x, i, s: kiln.index_add(x, 0, i, s, alpha=0.5),
                lambda x, i, s: torch.index_add(x, 0, i, s, alpha=0.5), a, sel, src)
    check_grads(lambda x, i: kiln.take_along_dim(x, i, 0),
                lambda x, i: torch.take_along_dim(x, i, 0), a, idx)


# ---- op library: masks ----------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int32, np.bool_])
def test_mask_ops_match_torch(dt):
    a = (randn(3, 4) * 5).astype(dt)
    m = rng.random((3, 4)) > 0.5
    mb = rng.random((4,)) > 0.5  # broadcast against a
    for mask in (m, mb):
        for nc in (False, True):
            assert_same(kiln.masked_fill(K(a, nc), K(mask), 2), torch.masked_fill(T(a), T(mask), 2))
            assert_same(K(a, nc).masked_select(K(mask)), T(a).masked_select(T(mask)))
        src = (randn(12) * 5).astype(dt)
        assert_same(kiln.masked_scatter(K(a), K(mask), K(src)),
                    torch.masked_scatter(T(a), T(mask), T(src)))
    assert_same(K(a).masked_fill(K(m), K(np.array(True))), T(a).masked_fill(T(m), True))
    x = K(a)
    x.masked_fill_(K(m), 0)
    assert_same(x, T(a).masked_fill_(T(m), 0))
    x = K(a)
    x.masked_scatter_(K(m), K(a[::-1].copy()))
    assert_same(x, T(a).masked_scatter_(T(m), T(a[::-1].copy())))
    assert_same(kiln.nonzero(K(a)), torch.nonzero(T(a)))
    assert_same(kiln.nonzero(K(a), as_tuple=True), torch.nonzero(T(a), as_tuple=True))
    assert_same(K(a).argwhere(), T(a).argwhere())
    assert_same(kiln.nonzero(K(np.zeros((0, 2), dt))), torch.nonzero(T(np.zeros((0, 2), dt))))


@needs_torch
def test_mask_op_gradients_match_torch():
    a = randn(3, 4)
    m = rng.random((3, 4)) > 0.5
    check_grads(lambda x, k: kiln.masked_fill(x, k, 1.5), lambda x, k: torch.masked_fill(x, k, 1.5),
                a, m)
    check_grads(lambda x, k: kiln.masked_select(x, k), lambda x, k: torch.masked_select(x, k),
                a, rng.random(4) > 0.5)
    check_grads(lambda x, k, s: kiln.masked_scatter(x, k, s),
                lambda x, k, s: torch.masked_scatter(x, k, s), a, m, randn(12))


# ---- op library: ordering -------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("shape,dim", [((0,), 0), ((1,), -1), ((7,), 0), ((4, 6), 1),
                                       ((4, 6), 0), ((2, 3, 5), -2)])
def test_sort_argsort_topk_match_torch(dt, shape, dim):
    a = rng.integers(0, 3, shape).astype(dt)  # many ties: checks stability
    for desc in (False, True):
        for nc in (False, True):
            assert_same(kiln.sort(K(a, nc), dim, desc),
                        torch.sort(T(a), dim=dim, descending=desc, stable=True))
            assert_same(K(a, nc).sort(dim, desc, True),
                        T(a).sort(dim=dim, descending=desc, stable=True))
            assert_same(kiln.argsort(K(a, nc), dim, desc),
                        torch.sort(T(a), dim=dim, descending=desc, stable=True).indices)
    f = rng.standard_normal(shape).astype(np.float64)  # distinct: topk's order is defined
    n = shape[dim]
    for k in sorted({0, min(1, n), n // 2, n}):
        for largest in (True, False):
            assert_same(kiln.topk(K(f), k, dim, largest), torch.topk(T(f), k, dim, largest))
            assert_same(K(f).topk(k, dim=dim, largest=largest),
                        T(f).topk(k, dim=dim, largest=largest))
    assert_same(kiln.msort(K(a)), torch.msort(T(a)))


def test_sort_nan_and_errors():
    a = np.array([3.0, np.nan, -1.0, np.nan, 2.0])
    v, i = kiln.sort(K(a))
    np.testing.assert_array_equal(v.numpy(), np.sort(a))
    assert i.tolist() == [2, 4, 0, 1, 3]
    v, _ = kiln.sort(K(a), descending=True)
    assert np.isnan(v.numpy()[:2]).all()
    assert type(kiln.sort(K(a))).__name__ == "sort"
    with pytest.raises(ValueError):
        kiln.topk(K(a), 6)
    with pytest.raises(IndexError):
        kiln.sort(K(a), 1)


@needs_torch
def test_unique_matches_torch():
    for a in (rng.integers(0, 5, (3, 4)), rng.integers(-2, 2, (7,)).astype(np.float32),
              np.zeros((0,), np.int64), np.array([True, False, True])):
        assert_same(kiln.unique(K(a)), torch.unique(T(a)))
        assert_same(kiln.unique(K(a, True), return_inverse=True, return_counts=True),
                    torch.unique(T(a), return_inverse=True, return_counts=True))
        assert_same(K(a).unique(return_counts=True), T(a).unique(return_counts=True))
        assert_same(K(a).unique(return_inverse=True), T(a).unique(return_inverse=True))
    with pytest.raises(ValueError, match="dim"):
        kiln.unique(K(np.ones((2, 2))), dim=0)


@needs_torch
def test_ordering_gradients_match_torch():
    a = randn(4, 6)
    check_grads(lambda x: kiln.sort(x, 1, True), lambda x: torch.sort(x, 1, True), a)
    check_grads(lambda x: kiln.topk(x, 3, 0), lambda x: torch.topk(x, 3, 0), a)


# ---- op library: shapes ---------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dt", [np.float64, np.int32, np.bool_])
def test_reorder_ops_match_torch(dt):
    a = (randn(3, 4, 2) * 5).astype(dt)
    for nc in (False, True):
        x = K(a, nc)
        for dims in ([0], [-1, 0], (1, 2), []):
            assert_same(kiln.flip(x, dims), torch.flip(T(a), dims))
        assert_same(x.flip(0, 2), T(a).flip(0, 2))
        assert_same(kiln.roll(x, 2), torch.roll(T(a), 2))
        assert_same(kiln.roll(x, -1, 1), torch.roll(T(a), -1, 1))
        assert_same(x.roll((1, 5), (0, -1)), T(a).roll((1, 5), (0, -1)))
        assert_same(x.repeat(2, 1, 3), T(a).repeat(2, 1, 3))
        assert_same(x.repeat((1, 2, 1, 1)), T(a).repeat((1, 2, 1, 1)))
        assert_same(kiln.tile(x, (2,)), torch.tile(T(a), (2,)))
        assert_same(x.tile(2, 1, 1, 2), T(a).tile(2, 1, 1, 2))
    with pytest.raises(ValueError):
        kiln.flip(K(a), [0, 0])
    with pytest.raises(RuntimeError):
        K(a).repeat(2)


@needs_torch
def test_split_chunk_unbind_match_torch():
    a = randn(7, 4)
    for nc in (False, True):
        x = K(a, nc)
        assert_same(kiln.split(x, 3), torch.split(T(a), 3))
        assert_same(kiln.split(x, [2, 0, 5]), torch.split(T(a), [2, 0, 5]))
        assert_same(x.split(3, 1), T(a).split(3, 1))
        assert_same(kiln.split_with_sizes(x, [1, 3], -1), T(a).split_with_sizes([1, 3], -1))
        for n in (1, 3, 7, 9):
            assert_same(kiln.chunk(x, n), torch.chunk(T(a), n))
        assert_same(x.chunk(2, -1), T(a).chunk(2, -1))
        assert_same(kiln.unbind(x, 1), torch.unbind(T(a), 1))
        assert_same(x.unbind(), T(a).unbind())
    assert isinstance(kiln.split(K(a), 3), tuple)
    with pytest.raises(ValueError):
        kiln.split(K(a), [2, 2])
    with pytest.raises(ValueError):
        kiln.chunk(K(a), 0)
    # the pieces are views: writing one writes the input
    x = K(a)
    kiln.split(x, 3)[1].zero_()
    assert (x.numpy()[3:6] == 0).all()


@needs_torch
def test_triangles_and_diagonals_match_torch():
    for dt in (np.float64, np.int64, np.bool_):
        a = (randn(2, 4, 5) * 5).astype(dt)
        for k in (-5, -1, 0, 2, 6):
            for nc in (False, True):
                assert_same(kiln.tril(K(a, nc), k), torch.tril(T(a), k))
                assert_same(K(a, nc).triu(k), T(a).triu(k))
                assert_same(kiln.diagonal(K(a, nc), k, 1, 2), torch.diagonal(T(a), k, 1, 2))
            assert_same(K(a).diagonal(offset=k, dim1=-1, dim2=0),
                        T(a).diagonal(offset=k, dim1=-1, dim2=0))
            # numpy here: torch 1.13's diag fails for an offset past the bottom edge
            d = kiln.diag(K(a[0]), k)
            assert d.dtype == K(a).dtype
            np.testing.assert_array_equal(d.numpy(), np.diagonal(a[0], k))
            assert_same(K(a[0, 0]).diag(k), T(a[0, 0]).diag(k))
    with pytest.raises(RuntimeError):
        kiln.diag(K(randn(2, 2, 2)))
    with pytest.raises(RuntimeError):
        kiln.tril(K(randn(3)))
    # diagonal is a view
    x = K(randn(3, 3))
    x.diagonal().zero_()
    assert (np.diag(x.numpy()) == 0).all()


@needs_torch
def test_views_match_torch():
    a = randn(3, 1, 4)
    for nc in (False, True):
        x = K(a, nc)
        assert_same(kiln.narrow(x, -1, 1, 2), torch.narrow(T(a), -1, 1, 2))
        assert_same(x.narrow(0, 0, 0), T(a).narrow(0, 0, 0))
        assert_same(kiln.select(x, 2, -1), torch.select(T(a), 2, -1))
        assert_same(x.expand(2, 3, 5, 4), T(a).expand(2, 3, 5, 4))
        assert_same(x.expand(-1, 6, -1), T(a).expand(-1, 6, -1))
        assert_same(x.expand((3, 2, 4)), T(a).expand((3, 2, 4)))
        assert_same(kiln.broadcast_to(x, (2, 3, 3, 4)), torch.broadcast_to(T(a), (2, 3, 3, 4)))
        assert_same(x.expand_as(K(randn(3, 7, 4))), T(a).expand_as(T(randn(3, 7, 4))))
    with pytest.raises(IndexError):
        K(a).select(0, 3)
    with pytest.raises(RuntimeError):
        K(a).expand(3, 2, 5)
    with pytest.raises(RuntimeError):
        K(a).expand(-1, 4)
    x = K(a)
    x.narrow(2, 0, 2).zero_()
    assert (x.numpy()[..., :2] == 0).all() and (x.numpy()[..., 2:] == a[..., 2:]).all()


@needs_torch
def test_shape_op_gradients_match_torch():
    a = randn(3, 4)
    for fk, ft in [
        (lambda x: kiln.flip(x, [0, 1]), lambda x: torch.flip(x, [0, 1])),
        (lambda x: kiln.roll(x, (1, -2), (0, 1)), lambda x: torch.roll(x, (1, -2), (0, 1))),
        (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3)),
        (lambda x: kiln.tile(x, (2,)), lambda x: torch.tile(x, (2,))),
        (lambda x: kiln.split(x, [1, 2], 0), lambda x: torch.split(x, [1, 2], 0)),
        (lambda x: kiln.chunk(x, 3, 1), lambda x: torch.chunk(x, 3, 1)),
        (lambda x: kiln.unbind(x, 1), lambda x: torch.unbind(x, 1)),
        (lambda x: kiln.tril(x, 1), lambda x: torch.tril(x, 1)),
        (lambda x: kiln.triu(x, -1), lambda x: torch.triu(x, -1)),
        (lambda x: kiln.diag(x, 1), lambda x: torch.diag(x, 1)),
        (lambda x: kiln.diag(x[0], -1), lambda x: torch.diag(x[0], -1)),
        (lambda x: kiln.diagonal(x, 1), lambda x: torch.diagonal(x, 1)),
        (lambda x: x.narrow(1, 1, 2), lambda x: x.narrow(1, 1, 2)),
        (lambda x: x.select(0, 2), lambda x: x.select(0, 2)),
        (lambda x: x[:1].expand(5, 4), lambda x: x[:1].expand(5, 4)),
    ]:
        check_grads(fk, ft, a)


# ---- op library: products and comparisons ---------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dt,rtol", [(np.float64, 1e-12), (np.float32, 1e-5), (np.int64, 0),
                                     (np.int32, 0)])
def test_products_match_torch(dt, rtol):
    def r(*s):
        return (randn(*s) * 4).astype(dt)
    v, w, m, n = r(4), r(3), r(3, 4), r(4, 2)
    b1, b2 = r(2, 3, 4), r(2, 4, 5)
    for nc in (False, True):
        assert_same(kiln.outer(K(v), K(w)), torch.outer(T(v), T(w)), rtol=rtol)
        assert_same(kiln.ger(K(v), K(w)), torch.ger(T(v), T(w)), rtol=rtol)
        assert_same(kiln.dot(K(v), K(v)), torch.dot(T(v), T(v)), rtol=rtol)
        assert_same(K(m, nc).mm(K(n, nc)), T(m).mm(T(n)), rtol=rtol)
        assert_same(kiln.mv(K(m, nc), K(v)), torch.mv(T(m), T(v)), rtol=rtol)
        assert_same(kiln.bmm(K(b1, nc), K(b2, nc)), torch.bmm(T(b1), T(b2)), rtol=rtol)
    c = r(1, 2)
    assert_same(kiln.addmm(K(c), K(m), K(n)), torch.addmm(T(c), T(m), T(n)), rtol=rtol)
    c = r(3, 2)
    assert_same(K(c).addmm(K(m), K(n), beta=2, alpha=3), T(c).addmm(T(m), T(n), beta=2, alpha=3),
                rtol=rtol)
    c = r(2, 3, 5)
    assert_same(kiln.baddbmm(K(c), K(b1), K(b2), beta=2, alpha=-1),
                torch.baddbmm(T(c), T(b1), T(b2), beta=2, alpha=-1), rtol=rtol)
    if dt in (np.float64, np.float32):  # beta = 0: input is not read, NaN included
        c[0, 1, 1] = np.nan
        np.testing.assert_allclose(kiln.baddbmm(K(c), K(b1), K(b2), beta=0, alpha=2).numpy(),
                                   2 * (b1 @ b2), rtol=rtol)
    z = r(0)
    assert_same(kiln.dot(K(z), K(z)), torch.dot(T(z), T(z)))
    assert_same(kiln.mm(K(r(2, 0)), K(r(0, 3))), torch.mm(T(r(2, 0)), T(r(0, 3))))


def test_product_errors():
    with pytest.raises(RuntimeError):
        kiln.mm(K(randn(2, 3)), K(randn(2, 3)))
    with pytest.raises(RuntimeError):
        kiln.dot(K(randn(2)), K(randn(3)))
    with pytest.raises(RuntimeError):
        kiln.bmm(K(randn(2, 3)), K(randn(3, 2)))
    with pytest.raises(TypeError, match="dtype"):
        kiln.mm(K(randn(2, 2)), K(randn(2, 2).astype(np.float32)))
    with pytest.raises(TypeError, match="bool"):
        kiln.outer(K(np.ones(2, bool)), K(np.ones(2, bool)))


@needs_torch
def test_product_gradients_match_torch():
    v, w, m, n = randn(4), randn(3), randn(3, 4), randn(4, 2)
    b1, b2 = randn(2, 3, 4), randn(2, 4, 5)
    check_grads(kiln.outer, torch.outer, v, w)
    check_grads(kiln.dot, torch.dot, v, v.copy())
    check_grads(kiln.mm, torch.mm, m, n)
    check_grads(kiln.mv, torch.mv, m, v)
    check_grads(kiln.bmm, torch.bmm, b1, b2)
    check_grads(lambda c, a, b: kiln.addmm(c, a, b, beta=0.5, alpha=2),
                lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2), randn(3, 1), m, n)
    check_grads(lambda c, a, b: kiln.baddbmm(c, a, b, alpha=-1),
                lambda c, a, b: torch.baddbmm(c, a, b, alpha=-1), randn(3, 5), b1, b2)


def test_allclose_and_equal():
    a = randn(3, 4)
    assert kiln.allclose(K(a), K(a + 1e-9))
    assert not kiln.allclose(K(a), K(a + 1e-3))
    assert K(a).allclose(K(a + 1e-3), atol=1e-2)
    assert kiln.allclose(K(a), K(a[:1]), rtol=10, atol=10)  # broadcasts
    nan = np.array([np.nan, 1.0])
    assert not kiln.allclose(K(nan), K(nan))
    assert kiln.allclose(K(nan), K(nan), equal_nan=True)
    with pytest.raises(TypeError):
        kiln.allclose(K(a), K(a.astype(np.float32)))
    assert kiln.equal(K(a), K(a.copy())) and K(a).equal(K(a, noncontig=True))
    assert not kiln.equal(K(a), K(a[:2]))
    assert not kiln.equal(K(nan), K(nan))
    assert kiln.equal(K(np.array([1, 2])), K(np.array([1.0, 2.0])))
