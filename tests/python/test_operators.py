# SPDX-License-Identifier: BSD-3-Clause
"""Floor division, remainder, fmod and the bitwise operators against numpy (and torch
where they differ): integer and floating dtypes, negative operands, broadcasting,
tensor-number forms, in-place forms, gradients, and integer division by zero."""
import numpy as np
import pytest

import kiln

rng = np.random.default_rng(7)
DTYPES = [(kiln.int32, np.int32), (kiln.int64, np.int64), (kiln.float32, np.float32),
          (kiln.float64, np.float64)]
INT_DTYPES = [(kiln.int8, np.int8), (kiln.uint8, np.uint8), (kiln.int16, np.int16),
              (kiln.int32, np.int32), (kiln.int64, np.int64)]
# (a's shape, b's shape): broadcasting both ways, a size-0 dim, 0-d.
SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((5,), ()), ((0, 3), (3,)),
          ((), ())]


def operands(shape, np_dtype, nonzero=False):
    if np.issubdtype(np_dtype, np.floating):
        a = rng.uniform(-20, 20, size=shape)
        # Some exact multiples and small magnitudes, where rounding of the quotient matters.
        a = np.where(rng.random(shape) < 0.2, np.round(a), a)
    else:
        info = np.iinfo(np_dtype)
        a = rng.integers(max(info.min, -50), min(info.max, 50), size=shape, endpoint=True)
    if nonzero:
        a = np.where(a == 0, 3, a)
    return np.asarray(a).astype(np_dtype)


def non_contiguous(k):
    # The same values through a transposed copy (a view with permuted strides).
    if k.dim() < 2:
        return k
    return k.transpose(0, 1).contiguous().transpose(0, 1)


@pytest.mark.parametrize("dt,npdt", DTYPES, ids=[str(d) for d, _ in DTYPES])
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
def test_floor_divide_remainder_fmod_match_numpy(dt, npdt, sa, sb):
    a = operands(sa, npdt)
    b = operands(sb, npdt, nonzero=True)
    ka, kb = non_contiguous(kiln.tensor(a)), kiln.tensor(b)
    for got, want in [
        (ka // kb, np.floor_divide(a, b)), (kiln.floor_divide(ka, kb), np.floor_divide(a, b)),
        (ka.floor_divide(kb), np.floor_divide(a, b)),
        (ka % kb, np.remainder(a, b)), (kiln.remainder(ka, kb), np.remainder(a, b)),
        (ka.remainder(kb), np.remainder(a, b)),
        (kiln.fmod(ka, kb), np.fmod(a, b)), (ka.fmod(kb), np.fmod(a, b)),
    ]:
        assert got.dtype == dt
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dt,npdt", DTYPES, ids=[str(d) for d, _ in DTYPES])
def test_with_numbers_on_either_side(dt, npdt):
    a = operands((7,), npdt, nonzero=True)
    k = kiln.tensor(a)
    for n in [3, -3, 1, -1]:
        np.testing.assert_array_equal((k // n).numpy(), a // npdt(n))
        np.testing.assert_array_equal((k % n).numpy(), a % npdt(n))
        np.testing.assert_array_equal(kiln.fmod(k, n).numpy(), np.fmod(a, npdt(n)))
        np.testing.assert_array_equal((n // k).numpy(), npdt(n) // a)
        np.testing.assert_array_equal((n % k).numpy(), npdt(n) % a)
        assert (k // n).dtype == dt and (n % k).dtype == dt
    # A float number lifts an integer tensor to float32, as torch's.
    got = k // 2.5
    assert got.dtype == (dt if dt.is_floating_point else kiln.float32)
    np.testing.assert_allclose(got.numpy(), a.astype(got.numpy().dtype) // np.float32(2.5))


def test_float_edge_cases_match_numpy():
    a = np.array([5.0, -5.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e-30, 7.0, -7.0])
    b = np.array([0.0, 0.0, 0.0, 2.0, 2.0, 3.0, 1.0, 1e-30, 3.0, np.inf, np.inf])
    for npdt, dt in [(np.float64, kiln.float64), (np.float32, kiln.float32)]:
        x, y = a.astype(npdt), b.astype(npdt)
        kx, ky = kiln.tensor(x, dtype=dt), kiln.tensor(y, dtype=dt)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal((kx // ky).numpy(), np.floor_divide(x, y))
            np.testing.assert_array_equal((kx % ky).numpy(), np.remainder(x, y))
            np.testing.assert_array_equal(kiln.fmod(kx, ky).numpy(), np.fmod(x, y))
        # Signed zeros of the quotient follow Python (and numpy, and torch).
        q = (kx // ky).numpy()
        assert np.signbit(q[3]) == np.signbit(np.floor_divide(x[3], y[3]))


def test_integer_extremes_wrap():
    for dt, npdt in [(kiln.int32, np.int32), (kiln.int64, np.int64), (kiln.int8, np.int8)]:
        lo = np.iinfo(npdt).min
        a = kiln.tensor(np.array([lo, lo, lo, 7], dtype=npdt))
        b = kiln.tensor(np.array([-1, 1, 2, -1], dtype=npdt))
        assert (a // b).tolist() == [lo, lo, lo // 2, -7]  # lo // -1 overflows to lo
        assert (a % b).tolist() == [0, 0, 0, 0]
        assert kiln.fmod(a, b).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("op", ["//", "%", "fmod"])
def test_integer_division_by_zero_raises(op):
    fn = {"//": lambda a, b: a // b, "%": lambda a, b: a % b, "fmod": kiln.fmod}[op]
    a = kiln.tensor([5, -5, 3])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(a, kiln.tensor([1, 0, 2]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(a, 0)
    if op != "fmod":
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn(7, kiln.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(a.int(), kiln.tensor([0], dtype=kiln.int8))
    # Floats divide by zero as IEEE does.
    assert np.isinf((kiln.tensor([1.0]) // 0).numpy()).all()


def test_bool_operands_are_refused_as_in_torch():
    t = kiln.tensor([True, False])
    with pytest.raises(TypeError, match="floor_divide"):
        t // t
    with pytest.raises(TypeError, match="remainder"):
        t % t
    with pytest.raises(TypeError, match="left_shift"):
        t << t
    with pytest.raises(TypeError, match="bitwise_not"):
        ~kiln.tensor([1.5])
    with pytest.raises(TypeError, match="and"):
        kiln.tensor([1.5]) & kiln.tensor([1.0])


@pytest.mark.parametrize("dt,npdt", INT_DTYPES, ids=[str(d) for d, _ in INT_DTYPES])
@pytest.mark.parametrize("sa,sb", SHAPES[:5], ids=[f"{a}-{b}" for a, b in SHAPES[:5]])
def test_bitwise_ops_match_numpy(dt, npdt, sa, sb):
    info = np.iinfo(npdt)
    a = rng.integers(info.min, info.max, size=sa, endpoint=True).astype(npdt)
    b = rng.integers(info.min, info.max, size=sb, endpoint=True).astype(npdt)
    ka, kb = non_contiguous(kiln.tensor(a)), kiln.tensor(b)
    for got, want in [
        (ka & kb, a & b), (ka | kb, a | b), (ka ^ kb, a ^ b), (~ka, ~a),
        (kiln.bitwise_and(ka, kb), a & b), (ka.bitwise_or(kb), a | b),
        (kiln.bitwise_xor(ka, kb), a ^ b), (kiln.bitwise_not(ka), ~a), (ka.bitwise_not(), ~a),
        (ka & 5, a & npdt(5)), (3 | kb, npdt(3) | b),
    ]:
        assert got.dtype == dt
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dt,npdt", INT_DTYPES, ids=[str(d) for d, _ in INT_DTYPES])
def test_shifts_match_numpy(dt, npdt):
    bits = np.iinfo(npdt).bits
    info = np.iinfo(npdt)
    a = rng.integers(info.min, info.max, size=(4, 40), endpoint=True).astype(npdt)
    # Every shift from 0 to past the width, and negative ones (numpy: 0 or the sign fill).
    s = np.arange(-3, bits + 3) if info.min < 0 else np.arange(0, bits + 3)
    s = np.resize(s, 40).astype(npdt)
    ka, ks = kiln.tensor(a), kiln.tensor(s)
    np.testing.assert_array_equal((ka << ks).numpy(), np.left_shift(a, s))
    np.testing.assert_array_equal((ka >> ks).numpy(), np.right_shift(a, s))
    np.testing.assert_array_equal(kiln.bitwise_left_shift(ka, ks).numpy(), np.left_shift(a, s))
    np.testing.assert_array_equal(ka.bitwise_right_shift(ks).numpy(), np.right_shift(a, s))
    np.testing.assert_array_equal((ka << 2).numpy(), np.left_shift(a, npdt(2)))
    np.testing.assert_array_equal((1 << ks[0:5].abs()).numpy(),
                                  np.left_shift(npdt(1), np.abs(s[0:5])))


def test_bool_bitwise_ops_and_promotion():
    t, f = kiln.tensor([True, True, False]), kiln.tensor([True, False, False])
    assert (t & f).tolist() == [True, False, False] and (t & f).dtype == kiln.bool
    assert (t | f).tolist() == [True, True, False]
    assert (t ^ f).tolist() == [False, True, False]
    assert (~t).tolist() == [False, False, True]
    assert (t & 1).dtype == kiln.int64 and (t & True).dtype == kiln.bool
    i8 = kiln.tensor([1, 2], dtype=kiln.int8)
    assert (i8 | kiln.tensor([4, 4], dtype=kiln.int32)).dtype == kiln.int32


def test_inplace_operators():
    a = np.array([-7, 7, 9, -9])
    for op in ["//=", "%=", "&=", "|=", "^=", "<<=", ">>="]:
        k = kiln.tensor(a)
        ref = a.copy()
        kb = kiln.tensor([2, -3, 4, 3])
        nb = np.array([2, -3, 4, 3])
        if op in ("<<=", ">>="):
            kb, nb = kb.abs(), np.abs(nb)
        same = k
        exec(f"k {op} kb", {}, {"k": k, "kb": kb})
        exec(f"ref {op} nb", {}, {"ref": ref, "nb": nb})
        np.testing.assert_array_equal(same.numpy(), ref, err_msg=op)
    k = kiln.tensor([7.5, -7.5])
    k //= 2
    k %= 3
    assert k.tolist() == [0.0, 2.0]  # [3, -4] % 3
    with pytest.raises(TypeError, match="can't be cast"):
        i = kiln.tensor([1, 2])
        i //= 2.5


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    a = rng.uniform(-5, 5, size=(3, 4))
    b = np.where(rng.random((4,)) < 0.5, -1, 1) * rng.uniform(0.5, 2, size=(4,))
    for name in ["remainder", "fmod"]:
        ka = kiln.tensor(a, requires_grad=True, dtype=kiln.float64)
        kb = kiln.tensor(b, requires_grad=True, dtype=kiln.float64)
        ta = torch.tensor(a, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        w = rng.standard_normal((3, 4))
        (getattr(kiln, name)(ka, kb) * kiln.tensor(w)).sum().backward()
        (getattr(torch, name)(ta, tb) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(ka.grad.numpy(), ta.grad.numpy(), rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(kb.grad.numpy(), tb.grad.numpy(), rtol=1e-12, err_msg=name)
    # x % number: the gradient of x is the incoming gradient.
    x = kiln.tensor([1.5, -2.5], requires_grad=True)
    (x % 2).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    # floor_divide is piecewise constant: a zero gradient (torch raises instead).
    x = kiln.tensor([1.5, -2.5], requires_grad=True)
    y = kiln.tensor([0.5, 2.0], requires_grad=True)
    (x // y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [0.0, 0.0]
