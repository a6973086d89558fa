# SPDX-License-Identifier: BSD-3-Clause
"""kiln.Tensor from Python against numpy: factories, dtypes and promotion, operators on
broadcast and non-contiguous operands, reductions, numpy interop, autograd, errors."""
import math

import numpy as np
import pytest

import kiln

FLOAT_DTYPES = [(kiln.float32, np.float32), (kiln.float64, np.float64)]
INT_DTYPES = [(kiln.int64, np.int64), (kiln.int32, np.int32), (kiln.int16, np.int16),
              (kiln.int8, np.int8), (kiln.uint8, np.uint8)]
SHAPES = [(), (1,), (0,), (5,), (3, 1), (2, 0, 3), (4, 5)]
rng = np.random.default_rng(0)


def rand_array(shape, np_dtype):
    if np.issubdtype(np_dtype, np.floating):
        return rng.standard_normal(shape).astype(np_dtype)
    if np_dtype == np.bool_:
        return rng.random(shape) < 0.5
    info = np.iinfo(np_dtype)
    lo, hi = max(info.min, -20), min(info.max, 20)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(np_dtype)


def as_np(t):
    return np.asarray(t.tolist(), dtype=None) if t.dtype == kiln.bfloat16 else t.numpy()


# ---- factories and dtypes ------------------------------------------------------------------

def test_factories_match_torch_defaults():
    assert kiln.zeros(2, 3).dtype == kiln.float32
    assert kiln.zeros((2, 3)).shape == (2, 3)
    assert kiln.ones([4], dtype=kiln.int64).tolist() == [1, 1, 1, 1]
    assert kiln.full((2,), 7).dtype == kiln.int64
    assert kiln.full((2,), 7.5).dtype == kiln.float32
    assert kiln.full((2,), True).dtype == kiln.bool
    assert kiln.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert kiln.arange(5).dtype == kiln.int64
    np.testing.assert_allclose(kiln.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(kiln.linspace(-1, 1, 5).numpy(), np.linspace(-1, 1, 5), rtol=1e-6)
    np.testing.assert_array_equal(kiln.eye(3, 2).numpy(), np.eye(3, 2, dtype=np.float32))
    assert kiln.empty(0, 4).shape == (0, 4)
    z = kiln.zeros_like(kiln.ones(2, 2, dtype=kiln.float64))
    assert z.dtype == kiln.float64 and z.tolist() == [[0, 0], [0, 0]]


def test_tensor_infers_dtypes_as_torch():
    assert kiln.tensor([1, 2]).dtype == kiln.int64
    assert kiln.tensor([1.0, 2]).dtype == kiln.float32
    assert kiln.tensor([True, False]).dtype == kiln.bool
    assert kiln.tensor(3.5).shape == ()
    assert kiln.tensor(np.zeros(3, np.float64)).dtype == kiln.float64
    src = np.zeros(3)
    copied = kiln.tensor(src)
    src[0] = 1
    assert copied.tolist() == [0.0, 0.0, 0.0]  # a copy, unlike from_numpy
    assert kiln.tensor([[1, 2], [3, 4]], dtype=kiln.float64).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError):
        kiln.tensor(["a", "b"])


def test_random_factories_are_seeded():
    kiln.manual_seed(3)
    a = kiln.randn(100)
    kiln.manual_seed(3)
    assert a.tolist() == kiln.randn(100).tolist()
    r = kiln.rand(10000).numpy()
    assert 0 <= r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.02
    i = kiln.randint(3, 7, (1000,)).numpy()
    assert i.min() == 3 and i.max() == 6
    assert kiln.randint(5, (2, 2)).dtype == kiln.int64


def test_dtype_objects():
    assert repr(kiln.float32) == "kiln.float32"
    assert kiln.float32.is_floating_point and not kiln.int64.is_floating_point
    assert kiln.float64.itemsize == 8
    assert kiln.float is kiln.float32 or kiln.float == kiln.float32
    assert kiln.long == kiln.int64


# ---- numpy interop ---------------------------------------------------------------------------

def test_from_numpy_shares_memory_both_ways():
    for np_dtype in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, np.float16):
        a = rand_array((3, 4), np_dtype)
        t = kiln.from_numpy(a)
        np.testing.assert_array_equal(t.numpy(), a)
        assert t.numpy().__array_interface__["data"][0] == a.__array_interface__["data"][0]
    a = np.zeros((2, 3))
    t = kiln.from_numpy(a)
    a[1, 2] = 5
    assert t.tolist()[1][2] == 5
    t.numpy()[0, 0] = 7
    assert a[0, 0] == 7
    # A strided view keeps its strides.
    v = np.arange(12.0).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(kiln.from_numpy(v).numpy(), v)


def test_numpy_refusals():
    with pytest.raises(TypeError, match="complex128"):
        kiln.from_numpy(np.zeros(2, np.complex128))
    with pytest.raises(ValueError, match="negative"):
        kiln.from_numpy(np.arange(4.0)[::-1])
    with pytest.raises(TypeError, match="bfloat16"):
        kiln.ones(2, dtype=kiln.bfloat16).numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        kiln.ones(2, requires_grad=True).numpy()


def test_numpy_outlives_tensor():
    a = kiln.arange(6).numpy()
    import gc
    gc.collect()
    assert a.tolist() == [0, 1, 2, 3, 4, 5]


# ---- operators against numpy --------------------------------------------------------------

@pytest.mark.parametrize("kdt,ndt", FLOAT_DTYPES + INT_DTYPES)
@pytest.mark.parametrize("shape_a,shape_b", [((4, 5), (4, 5)), ((3, 1), (1, 4)), ((2, 0, 3), (3,)),
                                             ((), (5,)), ((1,), (1,))])
def test_arithmetic_matches_numpy(kdt, ndt, shape_a, shape_b):
    a, b = rand_array(shape_a, ndt), rand_array(shape_b, ndt)
    ka, kb = kiln.tensor(a), kiln.tensor(b)
    assert ka.dtype == kdt
    for op in ("__add__", "__sub__", "__mul__", "__lt__", "__le__", "__eq__", "__ne__", "__gt__"):
        got = getattr(ka, op)(kb)
        want = getattr(a, op)(b)
        if np.issubdtype(ndt, np.integer) and op in ("__add__", "__sub__", "__mul__"):
            want = want.astype(ndt)  # numpy wraps like C++ does
        np.testing.assert_array_equal(got.numpy(), want, err_msg=op)
    if np.issubdtype(ndt, np.floating):
        np.testing.assert_allclose((ka / kb).numpy(), a / b, rtol=1e-6)


def test_non_contiguous_operands():
    a = rand_array((5, 4), np.float64)
    ka = kiln.tensor(a)
    kt = ka.t()
    assert not kt.is_contiguous()
    np.testing.assert_allclose((kt * 2 + kt.exp()).numpy(), a.T * 2 + np.exp(a.T))
    np.testing.assert_allclose((kt @ ka).numpy(), a.T @ a)


def test_promotion_follows_torch():
    i32 = kiln.tensor([1, 2], dtype=kiln.int32)
    assert (i32 + kiln.tensor([1, 2])).dtype == kiln.int64
    assert (i32 + 1).dtype == kiln.int32            # a number keeps the tensor's category
    assert (i32 + 1.5).dtype == kiln.float32        # ... or lifts it to the default float
    assert (kiln.tensor([True]) + 1).dtype == kiln.int64
    assert (kiln.ones(2) + kiln.ones(2, dtype=kiln.float64)).dtype == kiln.float64
    assert (kiln.ones(2, dtype=kiln.float16) * 2.5).dtype == kiln.float16
    assert (i32 / 2).dtype == kiln.float32          # true division
    assert (i32 / 2).tolist() == [0.5, 1.0]
    assert (kiln.tensor([True, False]) + kiln.tensor([True, True])).tolist() == [True, True]
    assert (2 - kiln.tensor([1.0, 3.0])).tolist() == [1.0, -1.0]
    assert (2 ** kiln.tensor([1.0, 3.0])).tolist() == [2.0, 8.0]
    assert (1 / kiln.tensor([2.0, 4.0])).tolist() == [0.5, 0.25]


def test_floor_division_and_remainder_follow_python():
    a = np.array([-7.5, -2.0, 3.0, 7.5])
    b = np.array([2.0, -3.0, -2.0, 2.5])
    ka, kb = kiln.tensor(a), kiln.tensor(b)
    np.testing.assert_array_equal((ka // kb).numpy(), a // b)
    np.testing.assert_allclose((ka % kb).numpy(), a % b)
    assert (kiln.tensor([-7]) // 2).tolist() == [-4]  # integers: test_operators.py


def test_unary_functions_match_numpy():
    a = rng.uniform(0.1, 3.0, size=(3, 4))
    k = kiln.tensor(a)
    for name, ref in [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("sin", np.sin),
                      ("cos", np.cos), ("tanh", np.tanh), ("floor", np.floor),
                      ("log1p", np.log1p), ("square", np.square)]:
        np.testing.assert_allclose(getattr(kiln, name)(k).numpy(), ref(a).astype(np.float32),
                                   rtol=2e-6, err_msg=name)
        np.testing.assert_allclose(getattr(k, name)().numpy(), ref(a).astype(np.float32),
                                   rtol=2e-6, err_msg=name)
    np.testing.assert_allclose(kiln.sigmoid(k).numpy(), 1 / (1 + np.exp(-a)), rtol=2e-6)
    # Integer inputs are computed in float32, as torch's.
    assert kiln.exp(kiln.tensor([0, 1])).dtype == kiln.float32
    np.testing.assert_array_equal((-kiln.tensor([1, -2])).numpy(), [-1, 2])
    np.testing.assert_array_equal(abs(kiln.tensor([-1.5, 2.0])).numpy(), [1.5, 2.0])
    assert (~kiln.tensor([True, False])).tolist() == [False, True]


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_match_numpy(dim, keepdim):
    a = rand_array((3, 4), np.float64)
    k = kiln.tensor(a)
    for name, ref in [("sum", np.sum), ("mean", np.mean), ("amax", np.amax), ("amin", np.amin)]:
        got = getattr(k, name)(dim, keepdim)
        want = ref(a, axis=dim, keepdims=keepdim)
        assert got.shape == np.shape(want), name
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, err_msg=name)
    # Integer sums stay integers, as int64.
    i = kiln.tensor([[1, 2], [3, 4]], dtype=kiln.int32)
    assert i.sum().dtype == kiln.int64 and i.sum().item() == 10
    assert kiln.sum(i, 0).tolist() == [4, 6]


def test_matmul_matches_numpy():
    a, b = rand_array((2, 3, 4), np.float32), rand_array((4, 5), np.float32)
    np.testing.assert_allclose((kiln.tensor(a) @ kiln.tensor(b)).numpy(), a @ b, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(TypeError):
        kiln.tensor([[1, 2]]) @ kiln.tensor([[1], [2]])


def test_in_place_operators_keep_the_tensor():
    t = kiln.ones(3)
    same = t
    t += 2
    t *= kiln.tensor([1.0, 2.0, 3.0])
    assert same is t and t.tolist() == [3.0, 6.0, 9.0]
    i = kiln.tensor([1, 2])
    with pytest.raises(TypeError, match="can't be cast"):
        i += 0.5


# ---- metadata, views, printing ----------------------------------------------------------------

def test_metadata_and_views():
    t = kiln.arange(24).reshape(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(-1) == 4 and t.numel() == 24
    assert t.stride() == (12, 4, 1)
    assert t.reshape(-1, 4).shape == (6, 4)
    assert t.view(6, 4).shape == (6, 4)
    assert t.permute(2, 0, 1).shape == (4, 2, 3)
    assert t.transpose(0, 2).shape == (4, 3, 2)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4)
    assert t.reshape(1, 24).squeeze().shape == (24,)
    assert t.flatten().shape == (24,)
    np.testing.assert_array_equal(t.T.numpy(), np.arange(24).reshape(2, 3, 4).T)
    with pytest.raises(RuntimeError, match="view"):
        t.transpose(0, 1).view(-1)
    with pytest.raises(RuntimeError, match="invalid for input of size 24"):
        t.reshape(5, -1)


def test_item_tolist_repr():
    assert kiln.tensor(2.5).item() == 2.5
    assert isinstance(kiln.tensor(3).item(), int)
    assert kiln.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert kiln.tensor([1, 2]).t().tolist() == [1, 2]
    assert repr(kiln.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(kiln.tensor([1, 2], dtype=kiln.int32)) == "tensor([1, 2], dtype=kiln.int32)"
    assert repr(kiln.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    with pytest.raises(RuntimeError, match="2 elements"):
        kiln.ones(2).item()


# ---- autograd --------------------------------------------------------------------------------

def test_backward_matches_finite_differences():
    x0 = rng.standard_normal(5)

    def f(x):
        return ((x * x).sin() + (x / 3).exp()).sum()

    x = kiln.tensor(x0, requires_grad=True)
    y = f(x)
    y.backward()
    eps = 1e-6
    fd = []
    for i in range(5):
        e = np.zeros(5)
        e[i] = eps
        fd.append((f(kiln.tensor(x0 + e)).item() - f(kiln.tensor(x0 - e)).item()) / (2 * eps))
    np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-6, atol=1e-8)
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None


def test_no_grad_and_detach():
    x = kiln.ones(3, requires_grad=True)
    with kiln.no_grad():
        y = x * 2
        with kiln.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad and kiln.is_grad_enabled()

    @kiln.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert not x.detach().requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        kiln.tensor([1, 2]).requires_grad_()


# ---- errors ----------------------------------------------------------------------------------

def test_errors_are_python_exceptions():
    with pytest.raises(RuntimeError):
        kiln.ones(2, 3) + kiln.ones(4)
    with pytest.raises(TypeError, match="bool"):
        kiln.tensor([True]) - kiln.tensor([False])
    with pytest.raises(TypeError):
        kiln.ones(2) + "a"
    with pytest.raises(ValueError):
        kiln.zeros(-1)
    assert math.isnan(kiln.tensor(float("nan")).item())


def test_tensor_copies_a_tensor_of_any_dtype():
    b = kiln.ones(2, dtype=kiln.bfloat16, requires_grad=True)
    c = kiln.tensor(b)
    assert c.dtype == kiln.bfloat16 and not c.requires_grad
    assert kiln.tensor(b, dtype=kiln.float32).tolist() == [1.0, 1.0]
    c += 1
    assert b.float().tolist() == [1.0, 1.0]  # a copy
    with pytest.raises(TypeError, match="0-d"):
        len(kiln.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(kiln.tensor(1.0))


def test_python_floats_convert_once_to_the_given_dtype():
    x = 0.1 + 0.2  # not representable in float32
    assert kiln.tensor(x, dtype=kiln.float64).item() == x
    assert kiln.tensor([x, 1e300], dtype=kiln.float64).tolist() == [x, 1e300]
    assert kiln.tensor([x]).item() == float(np.float32(x))  # float32 by default, as torch
    assert kiln.tensor([16777217.0], dtype=kiln.int64).item() == 16777217
