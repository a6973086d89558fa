# SPDX-License-Identifier: BSD-3-Clause
"""kiln.autograd.Function subclassed as torch.autograd.Function is: the same classes,
written once for either library, give torch's values and gradients (first and second
order); ctx's saved tensors, needs_input_grad, attributes, non-differentiable outputs;
errors raised in backward reach the caller as themselves; graphs are freed."""
import gc
import weakref

import numpy as np
import pytest

import kiln

rng = np.random.default_rng(11)


def functions(lib):
    """The same custom functions for kiln or torch (`lib` is the module)."""
    F = lib.autograd.Function

    class Cube(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    class ScaleShift(F):
        # Several outputs, a non-tensor argument, an argument without a gradient (None).
        @staticmethod
        def forward(ctx, x, y, scale, bias):
            ctx.scale = scale
            ctx.save_for_backward(x, y)
            return x * y * scale, x + bias

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            x, y = ctx.saved_tensors
            gx = g_prod * y * ctx.scale + g_sum
            gy = g_prod * x * ctx.scale if ctx.needs_input_grad[1] else None
            return gx, gy, None, None

    class ExpSaved(F):
        # Saves its own output.
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class Broadcast(F):
        # backward returns a gradient of the output's shape for an input that was
        # broadcast: it is summed down, as torch does.
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    return Cube, ScaleShift, ExpSaved, Broadcast


def pair(a, **kw):
    torch = pytest.importorskip("torch")
    return (kiln.tensor(a, dtype=kiln.float64, **kw), torch.tensor(a, dtype=torch.float64, **kw))


def close(k, t):
    np.testing.assert_allclose(k.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    kf, tf = functions(kiln), functions(torch)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    (xk, xt), (yk, yt) = pair(a, requires_grad=True), pair(b, requires_grad=True)
    w1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    outs = []
    for (Cube, ScaleShift, ExpSaved, Broadcast), x, y, lib in [(kf, xk, yk, kiln),
                                                               (tf, xt, yt, torch)]:
        p, s = ScaleShift.apply(x, y, 2.5, 1.0)
        c = Cube.apply(x)
        e = ExpSaved.apply(y)
        bsum = Broadcast.apply(x, y[0])
        loss = ((p * lib.tensor(w1)).sum() + (s * lib.tensor(w2)).sum() + c.sum() + e.sum()
                + (bsum * bsum).sum())
        loss.backward()
        outs.append((p, s, c, e, bsum, x.grad, y.grad))
    for k, t in zip(*outs):
        close(k, t)


def test_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    a = rng.standard_normal(5)
    for lib, x in zip((kiln, torch), pair(a, requires_grad=True)):
        Cube = functions(lib)[0]
        y = Cube.apply(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        if lib is kiln:
            gk, hk = g, h
        else:
            close(gk, g)
            close(hk, h)
    np.testing.assert_allclose(hk.numpy(), 36 * a**3, rtol=1e-12)  # d/dx sum((3x^2)^2)


def test_forward_runs_without_recording_and_needs_input_grad():
    seen = {}

    class Probe(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, n, *, scale=1.0):
            seen["grad_enabled"] = kiln.is_grad_enabled()
            seen["needs"] = ctx.needs_input_grad
            out = x * y * scale
            seen["out_requires_grad"] = out.requires_grad
            return out

        @staticmethod
        def backward(ctx, g):
            seen["backward_grad_enabled"] = kiln.is_grad_enabled()
            return g, None, None

    x = kiln.tensor([1.0, 2.0], requires_grad=True)
    y = kiln.tensor([3.0, 4.0])
    out = Probe.apply(x, y, 7, scale=2.0)
    assert seen == {"grad_enabled": False, "needs": (True, False, False),
                    "out_requires_grad": False}
    assert out.requires_grad and out.grad_fn == "ProbeBackward"
    assert out.tolist() == [6.0, 16.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and not seen["backward_grad_enabled"]
    # Nothing requires grad, or grad mode is off: plain outputs, no node.
    assert Probe.apply(y, y, 1).grad_fn is None
    with kiln.no_grad():
        assert Probe.apply(x, y, 1).grad_fn is None
    assert seen["needs"] == (False, False, False)


def test_an_input_returned_as_is_keeps_its_own_history():
    class Identity(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = kiln.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None and y.grad_fn == "IdentityBackward"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_non_differentiable_outputs_and_materialized_grads():
    got = {}

    class SortLike(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            idx = kiln.argmax(x, dim=0, keepdim=True)
            mask = x > 0
            ctx.mark_non_differentiable(mask)
            return x * 2, idx, mask, "label"

        @staticmethod
        def backward(ctx, g, g_idx, g_mask, g_label):
            got["grads"] = (g_idx, g_mask, g_label)
            return g * 2, None

    x = kiln.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y, idx, mask, label = SortLike.apply(x, True)
    assert label == "label" and idx.dtype == kiln.int64 and not mask.requires_grad
    assert idx.tolist() == [2] and mask.tolist() == [True, False, True]
    y.sum().backward()
    g_idx, g_mask, g_label = got["grads"]
    assert g_idx.tolist() == [0] and g_mask.tolist() == [False, False, False] and g_label is None
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    y, *_ = SortLike.apply(x, False)
    y.sum().backward()
    assert got["grads"] == (None, None, None)


def test_backward_returning_none_and_unused_outputs():
    class Two(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 1, b * 3

        @staticmethod
        def backward(ctx, ga, gb):
            return None, gb * 3

    a = kiln.tensor([1.0], requires_grad=True)
    b = kiln.tensor([1.0], requires_grad=True)
    ya, yb = Two.apply(a, b)
    yb.sum().backward()  # ya unused: its gradient arrives as zeros
    assert a.grad is None and b.grad.tolist() == [3.0]


def test_errors_in_backward_surface_as_themselves():
    class Boom(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x, kind):
            ctx.kind = kind
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ctx.kind("boom from backward")

    x = kiln.tensor([1.0], requires_grad=True)
    for kind in (KeyError, ValueError, ZeroDivisionError):
        with pytest.raises(kind, match="boom from backward"):
            Boom.apply(x, kind).sum().backward()
    # The engine is usable afterwards, and an error inside a longer graph propagates too.
    y = (Boom.apply(x * 2, ValueError) * 3).sum()
    with pytest.raises(ValueError):
        kiln.autograd.grad(y, x)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_bad_backward_results_are_errors():
    def make(result):
        class Bad(kiln.autograd.Function):
            @staticmethod
            def forward(ctx, x, n):
                return x * n

            @staticmethod
            def backward(ctx, g):
                return result(g)
        return Bad

    x = kiln.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        make(lambda g: g).apply(x, 2).sum().backward()
    with pytest.raises(RuntimeError, match="not a tensor"):
        make(lambda g: (g, g)).apply(x, 2).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient"):
        make(lambda g: (kiln.ones(3), None)).apply(x, 2).sum().backward()
    with pytest.raises(TypeError, match="position 1"):
        make(lambda g: (5, None)).apply(x, 2).sum().backward()
    # Extra trailing Nones are fine, and a gradient of another dtype is cast.
    make(lambda g: (g.double(), None, None)).apply(x, 2).sum().backward()
    assert x.grad.dtype == kiln.float32 and x.grad.tolist() == [1.0, 1.0]


def test_saved_tensors_are_version_checked_and_freed():
    class Mul(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w, None)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w, nothing = ctx.saved_tensors
            assert nothing is None
            return g * w, g * x

    x = kiln.tensor([1.0, 2.0], requires_grad=True)
    w = kiln.tensor([3.0, 4.0])
    y = Mul.apply(x, w)
    w += 1  # modifies a saved tensor in place
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    y = Mul.apply(x, kiln.tensor([3.0, 4.0]))
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0]
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    with pytest.raises(TypeError, match="save_for_backward"):
        class SavesNumber(kiln.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(3)
                return x * 1
        SavesNumber.apply(x)


def test_graph_is_freed_after_backward_and_without_it():
    ctxs = []

    class Keep(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctxs.append(weakref.ref(ctx))
            out = x * 2
            ctx.save_for_backward(x, out)  # an output too: no strong cycle through the node
            ctx.extra = x
            return out

        @staticmethod
        def backward(ctx, g):
            x, out = ctx.saved_tensors
            return g * 2

    x = kiln.tensor([1.0, 2.0], requires_grad=True)
    y = Keep.apply(x)
    y.sum().backward()
    del y
    gc.collect()
    assert ctxs[0]() is None
    y = Keep.apply(Keep.apply(x))
    z = y * 3
    del y, z
    gc.collect()
    assert ctxs[1]() is None and ctxs[2]() is None


def test_saved_output_is_the_output():
    class Square(kiln.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * x
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * 2 * y.sqrt()

    x = kiln.tensor([4.0, 9.0], requires_grad=True)
    y = Square.apply(x)
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 18.0]
