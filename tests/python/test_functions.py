# SPDX-License-Identifier: BSD-3-Clause
"""kiln.where, cat, stack, softmax, clamp, maximum, argmax, prod, var, std, all, any
against numpy, with torch's dtype rules."""
import numpy as np
import pytest

import kiln

rng = np.random.default_rng(1)


def test_where_promotes_like_torch():
    a = rng.standard_normal((3, 4))
    c = a > 0
    k, kc = kiln.tensor(a), kiln.tensor(c)
    np.testing.assert_array_equal(kiln.where(kc, k, -k).numpy(), np.where(c, a, -a))
    np.testing.assert_array_equal(kiln.where(kc, k, 0.0).numpy(), np.where(c, a, 0.0))
    i = kiln.tensor([1, 2, 3])
    m = kiln.tensor([True, False, True])
    assert kiln.where(m, i, 0).dtype == kiln.int64
    assert kiln.where(m, i, 0.5).dtype == kiln.float32
    assert kiln.where(m, i, 0.5).tolist() == [1.0, 0.5, 3.0]
    # Broadcasting condition against branches.
    np.testing.assert_array_equal(
        kiln.where(kiln.tensor([True, False]), kiln.ones(3, 2), kiln.zeros(1)).numpy(),
        np.where([True, False], np.ones((3, 2)), 0))
    with pytest.raises(TypeError, match="bool"):
        kiln.where(i, i, i)


def test_cat_and_stack_match_numpy():
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    np.testing.assert_array_equal(kiln.cat([kiln.tensor(a), kiln.tensor(b)]).numpy(),
                                  np.concatenate([a, b]))
    np.testing.assert_array_equal(kiln.stack([kiln.tensor(a), kiln.tensor(a)], 1).numpy(),
                                  np.stack([a, a], 1))
    # Mixed dtypes promote.
    assert kiln.cat([kiln.tensor([1]), kiln.tensor([0.5])]).dtype == kiln.float32
    with pytest.raises(RuntimeError):
        kiln.cat([kiln.tensor(a), kiln.ones(2, 4, dtype=kiln.float64)])
    with pytest.raises(ValueError):
        kiln.stack([])


def test_softmax_and_log_softmax():
    a = rng.standard_normal((3, 5))
    e = np.exp(a - a.max(1, keepdims=True))
    want = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(kiln.softmax(kiln.tensor(a), 1).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(kiln.tensor(a).log_softmax(-1).numpy(), np.log(want), rtol=1e-12)
    assert kiln.softmax(kiln.tensor([1, 2]), 0).dtype == kiln.float32


def test_clamp_maximum_minimum():
    a = rng.standard_normal(10)
    k = kiln.tensor(a)
    np.testing.assert_array_equal(k.clamp(-0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))
    np.testing.assert_array_equal(kiln.clamp(k, min=0.0).numpy(), np.maximum(a, 0))
    np.testing.assert_array_equal(kiln.clamp(k, max=0.0).numpy(), np.minimum(a, 0))
    b = rng.standard_normal(10)
    np.testing.assert_array_equal(kiln.maximum(k, kiln.tensor(b)).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal(k.minimum(kiln.tensor(b)).numpy(), np.minimum(a, b))
    assert kiln.clamp(kiln.tensor([-5, 5]), -1, 1).tolist() == [-1, 1]
    with pytest.raises(ValueError):
        kiln.clamp(k)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_arg_and_statistics_reductions(dim):
    a = rng.standard_normal((4, 6))
    k = kiln.tensor(a)
    np.testing.assert_array_equal(kiln.argmax(k, dim).numpy(), np.argmax(a, axis=dim))
    np.testing.assert_array_equal(k.argmin(dim).numpy(), np.argmin(a, axis=dim))
    np.testing.assert_allclose(kiln.prod(k, dim).numpy(), np.prod(a, axis=dim), rtol=1e-12)
    np.testing.assert_allclose(kiln.var(k, dim).numpy(), np.var(a, axis=dim, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(k.std(dim, correction=0).numpy(), np.std(a, axis=dim), rtol=1e-12)
    np.testing.assert_array_equal(kiln.all(k > -10, dim).numpy(), np.all(a > -10, axis=dim))
    np.testing.assert_array_equal((k > 1).any(dim).numpy(), np.any(a > 1, axis=dim))
    assert kiln.argmax(k, 1, keepdim=True).shape == (4, 1)
    assert kiln.prod(kiln.tensor([2, 3, 4])).item() == 24
    assert kiln.argmax(k).dtype == kiln.int64


def test_functions_are_differentiable():
    x = kiln.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = (kiln.softmax(x, 1) * kiln.tensor([[1.0, 2.0, 3.0]])).sum() + kiln.cat([x, x]).var()
    y.backward()
    assert x.grad.shape == (2, 3)
    # d/dx of sum(softmax(x) * w) per row is s * (w - s.w).
    s = kiln.softmax(x.detach(), 1).numpy()
    w = np.array([1.0, 2.0, 3.0])
    g_soft = s * (w - (s * w).sum(1, keepdims=True))
    xx = np.concatenate([x.detach().numpy()] * 2)
    g_var = 2 * (xx - xx.mean()) / (xx.size - 1)
    np.testing.assert_allclose(x.grad.numpy(), g_soft + g_var[:2] + g_var[2:], rtol=1e-10)
