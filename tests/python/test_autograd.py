# SPDX-License-Identifier: BSD-3-Clause
"""kiln.autograd from Python: grad (first and second order), hooks, retain_grad."""
import numpy as np
import pytest

import kiln


def test_grad_first_and_second_order():
    x0 = np.array([0.5, -1.0, 2.0])
    x = kiln.tensor(x0, requires_grad=True)
    y = (x * x * x).sum()
    (g,) = kiln.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x0**2, rtol=1e-6)
    (h,) = kiln.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x0, rtol=1e-6)
    assert x.grad is None  # grad() leaves .grad alone


def test_grad_with_grad_outputs_and_unused_inputs():
    x = kiln.ones(3, requires_grad=True)
    z = kiln.ones(3, requires_grad=True)
    y = x * 2
    gx, gz = kiln.autograd.grad([y], [x, z], [kiln.tensor([1.0, 2.0, 3.0])], allow_unused=True)
    assert gx.tolist() == [2.0, 4.0, 6.0] and gz is None
    with pytest.raises(RuntimeError):
        kiln.autograd.grad((x * 2).sum(), z)
    with pytest.raises(TypeError, match="one dtype"):
        kiln.autograd.grad((x * 2).sum(), kiln.ones(1, dtype=kiln.float64, requires_grad=True))


def test_hooks_see_and_replace_gradients():
    x = kiln.ones(2, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 3
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert seen == [[30.0, 30.0]]
    assert x.grad.tolist() == [30.0, 30.0]
    with pytest.raises(RuntimeError, match="doesn't require"):
        kiln.ones(2).register_hook(lambda g: g)


def test_retain_grad_and_backward_of_several():
    x = kiln.ones(2, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 4.0] and x.grad.tolist() == [8.0, 8.0]
    a = kiln.ones(2, requires_grad=True)
    kiln.autograd.backward([(a * 2).sum(), (a * 3).sum()])
    assert a.grad.tolist() == [5.0, 5.0]
