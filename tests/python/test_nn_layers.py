# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn's layers, losses and module hooks: forward and gradient against torch 1.13
where it is installed (same weights, loaded through load_state_dict, so torch's state_dict
keys are checked too) and against numpy / finite-difference references that run without
torch; bad input raises torch's exception types."""
import math

import numpy as np
import pytest

import kiln
import kiln.nn as nn
import kiln.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the numpy references below still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
KILN_DTYPE = {np.float32: kiln.float32, np.float64: kiln.float64}


def rng(seed=0):
    return np.random.default_rng(seed)


def close(a, b, dtype=np.float64, **kw):
    tol = dict(TOL[dtype])
    tol.update(kw)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **tol)


def _leaf(a, requires_grad, noncontig):
    """A kiln tensor holding `a` (transposed storage when noncontig) and its leaf."""
    if noncontig and a.ndim >= 2:
        leaf = kiln.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1)),
                           requires_grad=requires_grad)
        x = leaf.transpose(0, a.ndim - 1)
        assert not x.is_contiguous() or min(a.shape[0], a.shape[-1]) == 1
        return leaf, x, True
    leaf = kiln.tensor(a, requires_grad=requires_grad)
    return leaf, leaf, False


def against_torch(kfn, tfn, inputs, dtype, noncontig=False, grad=True, **tol):
    """Runs kfn on kiln tensors and tfn on torch tensors made from the same numpy
    arrays (floating ones cast to `dtype` and, with grad, requiring grad), then compares
    the outputs and the gradients of sum(out * g) for a random g."""
    kin, tin, pairs = [], [], []
    for a in inputs:
        if not isinstance(a, np.ndarray):
            kin.append(a)
            tin.append(a)
            continue
        floating = np.issubdtype(a.dtype, np.floating)
        if floating:
            a = a.astype(dtype)
        rg = floating and grad
        leaf, x, swapped = _leaf(a, rg, noncontig and floating)
        t = torch.tensor(a, requires_grad=rg)
        kin.append(x)
        tin.append(t)
        if rg:
            pairs.append((leaf, t, swapped))
    ky, ty = kfn(*kin), tfn(*tin)
    assert tuple(ky.shape) == tuple(ty.shape)
    close(ky.detach().numpy(), ty.detach().numpy(), dtype, **tol)
    if ty.requires_grad:  # inputs or the module's parameters
        g = rng(99).standard_normal(tuple(ty.shape)).astype(dtype)
        ky.backward(kiln.tensor(g))
        ty.backward(torch.tensor(g))
        for leaf, t, swapped in pairs:
            kg = leaf.grad.numpy()
            if swapped:
                kg = np.swapaxes(kg, 0, -1)
            close(kg, t.grad.numpy(), dtype, **tol)
    return ky


def load_from_torch(kmodule, tmodule):
    """Loads torch's parameters and buffers into the kiln module by name (strict: the
    state_dict keys must agree) and checks the key order too."""
    sd = {k: kiln.tensor(v.detach().numpy()) for k, v in tmodule.state_dict().items()}
    assert list(kmodule.state_dict()) == list(tmodule.state_dict())
    kmodule.load_state_dict(sd)


def fd_grad(f, x, g, eps=1e-6):
    """d sum(f(x) * g) / dx by central differences (float64 numpy x, f numpy -> numpy)."""
    out = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = ((f(xp) * g).sum() - (f(xm) * g).sum()) / (2 * eps)
    return out


# ---- batch norm ---------------------------------------------------------------------------

def test_batch_norm_training_matches_numpy_and_updates_running_stats():
    x = rng(1).standard_normal((6, 3, 4))
    bn = nn.BatchNorm1d(3).double()
    y = bn(kiln.tensor(x)).detach().numpy()
    mean = x.mean(axis=(0, 2), keepdims=True)
    var = x.var(axis=(0, 2), keepdims=True)
    close(y, (x - mean) / np.sqrt(var + 1e-5))
    close(bn.running_mean.numpy(), 0.1 * mean.ravel())
    close(bn.running_var.numpy(), 0.9 + 0.1 * x.var(axis=(0, 2), ddof=1))
    assert bn.num_batches_tracked.dtype == kiln.int64 and bn.num_batches_tracked.item() == 1
    # momentum=None: the running statistics are the plain average of every batch seen.
    cumulative = nn.BatchNorm1d(3, momentum=None).double()
    batches = [rng(s).standard_normal((5, 3)) for s in range(3)]
    for b in batches:
        cumulative(kiln.tensor(b))
    close(cumulative.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0))
    close(cumulative.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], axis=0))
    assert cumulative.num_batches_tracked.item() == 3
    # Evaluation uses the running statistics and leaves them alone.
    cumulative.eval()
    before = cumulative.running_mean.numpy().copy()
    z = rng(5).standard_normal((2, 3))
    close(cumulative(kiln.tensor(z)).detach().numpy(),
          (z - before) / np.sqrt(cumulative.running_var.numpy() + 1e-5))
    close(cumulative.running_mean.numpy(), before)
    assert cumulative.num_batches_tracked.item() == 3


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 6)),
                                       ("BatchNorm2d", (3, 3, 4, 5))])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False},
                                    {"track_running_stats": False}, {"momentum": 0.3}])
def test_batch_norm_matches_torch(dtype, cls, shape, kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(3, **kwargs).to(torch.float64 if dtype == np.float64
                                                else torch.float32)
    km = getattr(nn, cls)(3, **kwargs).to(KILN_DTYPE[dtype])
    if tm.affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-0.5, 0.5)
    load_from_torch(km, tm)
    for step in range(3):
        x = rng(step).standard_normal(shape) * 2 + 1
        against_torch(km, tm, [x], dtype, noncontig=step == 1)
    for name, buf in tm.named_buffers():
        kb = dict(km.named_buffers())[name]
        assert kb.dtype == (kiln.int64 if buf.dtype == torch.int64 else KILN_DTYPE[dtype])
        close(kb.numpy(), buf.numpy(), dtype)
    if tm.affine:
        close(km.weight.grad.numpy(), tm.weight.grad.numpy(), dtype)
    km.eval()
    tm.eval()
    against_torch(km, tm, [rng(7).standard_normal(shape)], dtype)
    assert repr(km) == repr(tm)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_batch_norm_matches_torch(dtype):
    x = rng(0).standard_normal((4, 3, 2, 2)).astype(dtype)
    w, b = rng(1).standard_normal(3), rng(2).standard_normal(3)
    for training in (True, False):
        krm, krv = kiln.zeros(3, dtype=KILN_DTYPE[dtype]), kiln.ones(3, dtype=KILN_DTYPE[dtype])
        trm = torch.zeros(3, dtype=torch.float32 if dtype == np.float32 else torch.float64)
        trv = torch.ones_like(trm)
        against_torch(lambda x, w, b: F.batch_norm(x, krm, krv, w, b, training, 0.2, 1e-3),
                      lambda x, w, b: TF.batch_norm(x, trm, trv, w, b, training, 0.2, 1e-3),
                      [x, w, b], dtype)
        close(krm.numpy(), trm.numpy(), dtype)
        close(krv.numpy(), trv.numpy(), dtype)
    # No running statistics: batch statistics, training only.
    against_torch(lambda x: F.batch_norm(x, None, None, training=True),
                  lambda x: TF.batch_norm(x, None, None, training=True), [x], dtype)


def test_batch_norm_state_dict_to_and_errors():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    bn(kiln.randn(2, 4, 3, 3))
    bn.double()
    assert bn.weight.dtype == kiln.float64 and bn.running_var.dtype == kiln.float64
    assert bn.num_batches_tracked.dtype == kiln.int64
    assert bn.num_batches_tracked.item() == 1
    other = nn.BatchNorm2d(4).double()
    other.load_state_dict(bn.state_dict())
    assert other.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(other.running_mean.numpy(), bn.running_mean.numpy())
    assert list(nn.BatchNorm1d(2, affine=False, track_running_stats=False).state_dict()) == []
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(kiln.randn(2, 4, dtype=kiln.float64))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(4)(kiln.randn(2, 4, 1, 1))
    with pytest.raises(RuntimeError, match=r"\[batch_norm\].*\[4\]"):
        nn.BatchNorm1d(4)(kiln.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(4)(kiln.randn(1, 4))
    with pytest.raises(TypeError, match="one dtype"):
        nn.BatchNorm1d(4)(kiln.randn(2, 4, dtype=kiln.float64))
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(kiln.randn(2, 4), None, None, training=False)


# ---- layer, group and RMS norm ------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_and_group_norm_match_torch(dtype):
    torch.manual_seed(0)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    for tm, km, shape in [
        (torch.nn.LayerNorm(5), nn.LayerNorm(5), (3, 4, 5)),
        (torch.nn.LayerNorm([4, 5], eps=1e-3), nn.LayerNorm([4, 5], eps=1e-3), (2, 3, 4, 5)),
        (torch.nn.LayerNorm(5, elementwise_affine=False),
         nn.LayerNorm(5, elementwise_affine=False), (2, 5)),
        (torch.nn.GroupNorm(2, 6), nn.GroupNorm(2, 6), (3, 6, 4)),
        (torch.nn.GroupNorm(3, 6, affine=False), nn.GroupNorm(3, 6, affine=False),
         (2, 6, 2, 3)),
        (torch.nn.GroupNorm(1, 4, eps=1e-2), nn.GroupNorm(1, 4, eps=1e-2), (2, 4)),
        (torch.nn.LayerNorm(1), nn.LayerNorm(1), (3, 1)),
        (torch.nn.GroupNorm(1, 2), nn.GroupNorm(1, 2), (1, 2, 1)),
    ]:
        tm = tm.to(tdt)
        km = km.to(KILN_DTYPE[dtype])
        with torch.no_grad():
            for p in tm.parameters():
                p.uniform_(-1, 1)
        load_from_torch(km, tm)
        assert repr(km) == repr(tm)
        for noncontig in (False, True):
            km.zero_grad()
            tm.zero_grad()
            against_torch(km, tm, [rng(1).standard_normal(shape) * 3], dtype, noncontig)
            for (name, kp), tp in zip(km.named_parameters(), tm.parameters()):
                close(kp.grad.numpy(), tp.grad.numpy(), dtype, err_msg=name)
    x = rng(2).standard_normal((2, 3, 4))
    against_torch(lambda x, w, b: F.layer_norm(x, (4,), w, b, 1e-4),
                  lambda x, w, b: TF.layer_norm(x, (4,), w, b, 1e-4),
                  [x, rng(3).standard_normal(4), rng(4).standard_normal(4)], dtype)
    against_torch(lambda x, w, b: F.group_norm(x, 3, w, b),
                  lambda x, w, b: TF.group_norm(x, 3, w, b),
                  [x, rng(3).standard_normal(3), rng(4).standard_normal(3)], dtype)


def test_layer_norm_without_bias_and_rms_norm_match_numpy():
    x = rng(0).standard_normal((3, 4))
    ln = nn.LayerNorm(4, bias=False).double()
    assert ln.bias is None and list(ln.state_dict()) == ["weight"]
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    close(ln(kiln.tensor(x)).detach().numpy(), (x - mu) / np.sqrt(var + 1e-5))

    def rms(a, w, eps):
        return a / np.sqrt((a * a).mean(-1, keepdims=True) + eps) * w

    w = rng(1).standard_normal(4)
    m = nn.RMSNorm(4, eps=1e-6).double()
    m.load_state_dict({"weight": kiln.tensor(w)})
    xt = kiln.tensor(x, requires_grad=True)
    y = m(xt)
    close(y.detach().numpy(), rms(x, w, 1e-6))
    g = rng(2).standard_normal(x.shape)
    y.backward(kiln.tensor(g))
    close(xt.grad.numpy(), fd_grad(lambda a: rms(a, w, 1e-6), x, g), rtol=1e-6, atol=1e-8)
    close(m.weight.grad.numpy(), fd_grad(lambda v: rms(x, v, 1e-6), w, g), rtol=1e-6, atol=1e-8)
    # eps=None is the dtype's machine epsilon.
    x32 = x.astype(np.float32)
    close(F.rms_norm(kiln.tensor(x32), [4]).numpy(),
          rms(x32, 1.0, np.finfo(np.float32).eps), np.float32)
    assert repr(nn.RMSNorm([2, 3])) == "RMSNorm((2, 3), eps=None, elementwise_affine=True)"


def test_norm_errors():
    with pytest.raises(RuntimeError, match=r"normalized_shape \[5\]"):
        nn.LayerNorm(5)(kiln.randn(2, 4))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="expected input"):
        nn.GroupNorm(2, 6)(kiln.randn(2, 4, 3))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.GroupNorm(2, 2)(kiln.randn(1, 2, 1))
    with pytest.raises(TypeError, match="floating"):
        F.layer_norm(kiln.ones(2, 3, dtype=kiln.int64), [3])


# ---- embedding ----------------------------------------------------------------------------

def test_embedding_matches_numpy_with_padding_idx():
    emb = nn.Embedding(5, 3, padding_idx=-1).double()
    assert emb.padding_idx == 4
    assert np.all(emb.weight.detach().numpy()[4] == 0)
    w = emb.weight.detach().numpy()
    ids = np.array([[0, 4, 2], [2, 2, 1]])
    y = emb(kiln.tensor(ids))
    np.testing.assert_array_equal(y.detach().numpy(), w[ids])
    g = rng(0).standard_normal((2, 3, 3))
    y.backward(kiln.tensor(g))
    expect = np.zeros((5, 3))
    np.add.at(expect, ids.ravel(), g.reshape(-1, 3))
    expect[4] = 0
    close(emb.weight.grad.numpy(), expect)
    # int32 ids, an empty batch, and from_pretrained (frozen by default).
    np.testing.assert_array_equal(
        emb(kiln.tensor(ids.astype(np.int32))).detach().numpy(), w[ids])
    assert tuple(emb(kiln.zeros(0, dtype=kiln.int64)).shape) == (0, 3)
    pre = nn.Embedding.from_pretrained(kiln.tensor(w))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(pre(kiln.tensor([1, 3])).numpy(), w[[1, 3]])
    assert repr(emb) == "Embedding(5, 3, padding_idx=4)"


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 0, -2])
def test_embedding_matches_torch(dtype, padding_idx):
    torch.manual_seed(0)
    tm = torch.nn.Embedding(6, 4, padding_idx=padding_idx)
    km = nn.Embedding(6, 4, padding_idx=padding_idx)
    if dtype == np.float64:
        tm, km = tm.double(), km.double()
    load_from_torch(km, tm)
    ids = rng(0).integers(0, 6, size=(3, 5))
    against_torch(km, tm, [ids], dtype)
    close(km.weight.grad.numpy(), tm.weight.grad.numpy(), dtype)
    w = rng(1).standard_normal((6, 4))
    against_torch(lambda w: F.embedding(kiln.tensor(ids), w, padding_idx),
                  lambda w: TF.embedding(torch.tensor(ids), w, padding_idx), [w], dtype)
    assert repr(km) == repr(tm)


def test_embedding_errors():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError):
        emb(kiln.tensor([0, 4]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(kiln.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 2, max_norm=1.0)


# ---- convolutions and bilinear ------------------------------------------------------------

def test_conv1d_matches_a_numpy_loop():
    x = rng(0).standard_normal((2, 4, 9))
    conv = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2).double()
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    out_len = (9 + 2 - 2 * 2 - 1) // 2 + 1
    expect = np.zeros((2, 6, out_len))
    for o in range(6):
        g = o // 3
        for t in range(out_len):
            for k in range(3):
                expect[:, o, t] += xp[:, 2 * g:2 * g + 2, 2 * t + 2 * k] @ w[o, :, k]
        expect[:, o] += b[o]
    close(conv(kiln.tensor(x)).detach().numpy(), expect)
    assert repr(conv) == ("Conv1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), "
                          "dilation=(2,), groups=2)")


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 2, "bias": False},
                                    {"dilation": 2, "groups": 2, "padding": 1},
                                    {"padding": "same"}, {"padding": "same", "dilation": 3},
                                    {"padding": "valid"},
                                    {"padding": 2, "padding_mode": "reflect"},
                                    {"padding": 1, "padding_mode": "circular", "stride": 2},
                                    {"padding": 3, "padding_mode": "replicate"}])
def test_conv1d_and_conv2d_match_torch(dtype, kwargs):
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    for dim, kernel in ((1, 4), (2, (3, 2))):
        torch.manual_seed(1)
        tcls = torch.nn.Conv1d if dim == 1 else torch.nn.Conv2d
        kcls = nn.Conv1d if dim == 1 else nn.Conv2d
        tm = tcls(4, 6, kernel, **kwargs).to(tdt)
        km = kcls(4, 6, kernel, **kwargs).to(KILN_DTYPE[dtype])
        load_from_torch(km, tm)
        assert repr(km) == repr(tm)
        shape = (2, 4, 11) if dim == 1 else (2, 4, 7, 6)
        against_torch(km, tm, [rng(3).standard_normal(shape)], dtype, noncontig=True)
        close(km.weight.grad.numpy(), tm.weight.grad.numpy(), dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1, "output_padding": 1},
                                    {"groups": 2, "dilation": 2, "bias": False},
                                    {"stride": (2, 3), "padding": (0, 1),
                                     "output_padding": (1, 2)}])
def test_conv_transpose2d_matches_torch(dtype, kwargs):
    torch.manual_seed(2)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = torch.nn.ConvTranspose2d(4, 6, 3, **kwargs).to(tdt)
    km = nn.ConvTranspose2d(4, 6, 3, **kwargs).to(KILN_DTYPE[dtype])
    load_from_torch(km, tm)
    assert repr(km) == repr(tm)
    x = rng(4).standard_normal((2, 4, 5, 4))
    against_torch(km, tm, [x], dtype)
    close(km.weight.grad.numpy(), tm.weight.grad.numpy(), dtype)
    # forward(input, output_size) picks the output_padding.
    want = tm(torch.tensor(x.astype(dtype)), output_size=[10, 7]) if kwargs.get(
        "stride") == 2 else None
    if want is not None:
        got = km(kiln.tensor(x.astype(dtype)), output_size=[10, 7])
        close(got.detach().numpy(), want.detach().numpy(), dtype)
        with pytest.raises(ValueError, match="valid sizes"):
            km(kiln.tensor(x.astype(dtype)), output_size=[20, 20])


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_matches_torch(dtype):
    torch.manual_seed(3)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    for bias in (True, False):
        tm = torch.nn.Bilinear(3, 4, 5, bias=bias).to(tdt)
        km = nn.Bilinear(3, 4, 5, bias=bias).to(KILN_DTYPE[dtype])
        load_from_torch(km, tm)
        assert repr(km) == repr(tm)
        against_torch(km, tm, [rng(0).standard_normal((2, 6, 3)),
                               rng(1).standard_normal((2, 6, 4))], dtype, noncontig=True)
        close(km.weight.grad.numpy(), tm.weight.grad.numpy(), dtype)


def test_bilinear_matches_numpy_and_conv_errors():
    m = nn.Bilinear(2, 3, 4).double()
    x1, x2 = rng(0).standard_normal((5, 2)), rng(1).standard_normal((5, 3))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    close(m(kiln.tensor(x1), kiln.tensor(x2)).detach().numpy(),
          np.einsum("ni,oij,nj->no", x1, w, x2) + b)
    bound = 1 / math.sqrt(2)
    assert np.abs(w).max() <= bound
    with pytest.raises(RuntimeError, match=r"\[bilinear\]"):
        m(kiln.tensor(x1), kiln.tensor(x1))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv1d(3, 4, 2, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(3, 4, 2, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(3, 4, 2, padding="same", stride=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 2, padding="same", stride=(1, 2))
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 4, 2, padding="full")
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(kiln.randn(1, 3, 4, 4), kiln.randn(2, 3, 2, 2), padding="same", stride=2)
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(3, 4, 2, padding_mode="reflect")
    with pytest.raises(TypeError, match="one dtype"):
        nn.Conv1d(3, 4, 2)(kiln.randn(1, 3, 5, dtype=kiln.float64))


# ---- pooling, padding, one_hot ------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_pool_and_pad_match_torch(dtype):
    x = rng(0).standard_normal((2, 3, 7, 5))
    for size in (3, (2, 4), (None, 2), 1):
        against_torch(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), [x], dtype,
                      noncontig=True)
    for kmod, tmod in [(nn.ZeroPad2d((1, 2, 0, 3)), torch.nn.ZeroPad2d((1, 2, 0, 3))),
                       (nn.ConstantPad1d(2, 3.5), torch.nn.ConstantPad1d(2, 3.5)),
                       (nn.ReflectionPad2d(2), torch.nn.ReflectionPad2d(2)),
                       (nn.ConstantPad3d(1, -1.0), torch.nn.ConstantPad3d(1, -1.0))]:
        against_torch(kmod, tmod, [x], dtype, noncontig=True)
        assert repr(kmod) == repr(tmod)
    # torch 1.13 pads the last dim of 2-D or 3-D inputs only in the 1d modules.
    against_torch(nn.ReplicationPad1d((3, 1)), torch.nn.ReplicationPad1d((3, 1)), [x[0]], dtype,
                  noncontig=True)
    against_torch(nn.ReflectionPad1d(2), torch.nn.ReflectionPad1d(2), [x[0]], dtype)
    for mode in ("constant", "reflect", "replicate", "circular"):
        against_torch(lambda a: F.pad(a, [1, 2, 2, 1], mode), lambda a: TF.pad(a, [1, 2, 2, 1],
                                                                               mode), [x], dtype)
    against_torch(lambda a: F.pad(a, [-1, 2], value=2.0), lambda a: TF.pad(a, [-1, 2], value=2.0),
                  [x], dtype)


def test_pad_and_one_hot_match_numpy():
    x = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(F.pad(kiln.tensor(x), (1, 1), value=9).numpy(),
                                  np.pad(x, ((0, 0), (1, 1)), constant_values=9))
    np.testing.assert_array_equal(F.pad(kiln.tensor(x.astype(float)), (2, 1), "reflect").numpy(),
                                  np.pad(x.astype(float), ((0, 0), (2, 1)), mode="reflect"))
    np.testing.assert_array_equal(F.one_hot(kiln.tensor([2, 0, 1])).numpy(), np.eye(3)[[2, 0, 1]])
    assert tuple(F.one_hot(kiln.tensor([[1]]), 4).shape) == (1, 1, 4)
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(kiln.ones(2), [1])
    with pytest.raises(ValueError, match="value"):
        F.pad(kiln.ones(2, 3), [1, 1], "reflect", value=1.0)
    pooled = nn.AdaptiveAvgPool2d((1, 2))(kiln.tensor(np.arange(8.0).reshape(1, 2, 4)))
    np.testing.assert_array_equal(pooled.numpy(), [[[2.5, 4.5]]])


# ---- activations --------------------------------------------------------------------------

def test_activations_match_numpy():
    x = np.linspace(-4, 4, 17)
    kx = kiln.tensor(x)
    close(nn.LeakyReLU(0.2)(kx).numpy(), np.where(x < 0, 0.2 * x, x))
    close(nn.ELU(0.5)(kx).numpy(), np.where(x > 0, x, 0.5 * np.expm1(x)))
    close(nn.Softplus(2, 4)(kx).numpy(), np.where(2 * x > 4, x, np.log1p(np.exp(2 * x)) / 2))
    close(nn.Hardtanh(-2, 3)(kx).numpy(), np.clip(x, -2, 3))
    close(nn.ReLU6()(kiln.tensor(x * 3)).numpy(), np.clip(x * 3, 0, 6))
    close(nn.GELU("tanh")(kx).numpy(),
          0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))))
    m = rng(0).standard_normal((2, 3))
    e = np.exp(m - m.max(1, keepdims=True))
    close(nn.Softmax(dim=1)(kiln.tensor(m)).numpy(), e / e.sum(1, keepdims=True))
    close(nn.LogSoftmax(1)(kiln.tensor(m)).numpy(), np.log(e / e.sum(1, keepdims=True)))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match="floating"):
        F.leaky_relu(kiln.tensor([1, 2]))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_match_torch(dtype):
    # Away from the kinks, where the subgradients agree.
    x = rng(0).standard_normal((4, 5)) * 4
    x[np.abs(x) < 1e-3] = 0.5
    for kmod, tmod in [(nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
                       (nn.ELU(1.5), torch.nn.ELU(1.5)),
                       (nn.Softplus(), torch.nn.Softplus()),
                       (nn.Softplus(0.5, 1.0), torch.nn.Softplus(0.5, 1.0)),
                       (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
                       (nn.Hardtanh(-0.7, 2.2), torch.nn.Hardtanh(-0.7, 2.2)),
                       (nn.ReLU6(), torch.nn.ReLU6()), (nn.Softmax(0), torch.nn.Softmax(0)),
                       (nn.Softmax(), torch.nn.Softmax()), (nn.LogSoftmax(-1),
                                                           torch.nn.LogSoftmax(-1))]:
        against_torch(kmod, tmod, [x], dtype, noncontig=True)
        assert repr(kmod) == repr(tmod)


# ---- losses -------------------------------------------------------------------------------

REDUCTIONS = ["none", "mean", "sum"]


def test_regression_and_binary_losses_match_numpy():
    r = rng(0)
    x, t = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    kx, kt = kiln.tensor(x), kiln.tensor(t)
    d = np.abs(x - t)
    close(F.smooth_l1_loss(kx, kt, beta=0.5, reduction="none").numpy(),
          np.where(d < 0.5, 0.5 * d * d / 0.5, d - 0.25))
    close(F.smooth_l1_loss(kx, kt, beta=0.0).numpy(), d.mean())
    close(F.huber_loss(kx, kt, delta=0.7, reduction="sum").numpy(),
          np.where(d < 0.7, 0.5 * d * d, 0.7 * (d - 0.35)).sum())
    p = 1 / (1 + np.exp(-x))
    y = (r.random((3, 4)) > 0.5).astype(float)
    w = r.random(4)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    close(F.binary_cross_entropy(kiln.tensor(p), kiln.tensor(y), kiln.tensor(w)).numpy(),
          (bce * w).mean())
    pw = r.random(4) * 3
    logits = -(pw * y * np.log(p) + (1 - y) * np.log(1 - p))
    close(nn.BCEWithLogitsLoss(pos_weight=kiln.tensor(pw), reduction="sum")(kx, kiln.tensor(y))
          .numpy(), logits.sum())
    # log(0) is clamped at -100 as torch's.
    close(F.binary_cross_entropy(kiln.tensor([0.0, 1.0]), kiln.tensor([1.0, 1.0]),
                                 reduction="none").numpy(), [100.0, 0.0])
    q = np.exp(r.standard_normal((3, 4)))
    q /= q.sum(1, keepdims=True)
    logp = np.log(p / p.sum(1, keepdims=True))
    kl = q * (np.log(q) - logp)
    close(F.kl_div(kiln.tensor(logp), kiln.tensor(q), reduction="batchmean").numpy(),
          kl.sum() / 3)
    close(nn.KLDivLoss(reduction="sum", log_target=True)(kiln.tensor(logp),
                                                         kiln.tensor(np.log(q))).numpy(),
          kl.sum())
    # The legacy size_average / reduce arguments choose the reduction, as in torch.
    assert nn.L1Loss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    close(F.l1_loss(kx, kt, False).numpy(), d.sum())
    # Empty inputs: sum 0, mean NaN (torch's).
    e = kiln.zeros(0, dtype=kiln.float64)
    assert F.smooth_l1_loss(e, e, reduction="sum").item() == 0
    assert math.isnan(F.huber_loss(e, e).item())


def test_distances_and_triplet_match_numpy():
    r = rng(1)
    a, b, c = (r.standard_normal((4, 5)) for _ in range(3))
    ka, kb, kc = kiln.tensor(a), kiln.tensor(b), kiln.tensor(c)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    close(F.cosine_similarity(ka, kb).numpy(), cos)
    close(nn.CosineSimilarity(dim=0)(ka, kb).numpy(),
          (a * b).sum(0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)))
    for p in (1.0, 2.0, 3.0):
        want = (np.abs(a - b + 1e-6) ** p).sum(1) ** (1 / p)
        close(F.pairwise_distance(ka, kb, p).numpy(), want)
    assert tuple(nn.PairwiseDistance(keepdim=True)(ka, kb).shape) == (4, 1)
    # A zero vector: similarity 0 and a finite gradient.
    z = kiln.zeros(1, 5, dtype=kiln.float64, requires_grad=True)
    sim = F.cosine_similarity(z, kb[:1])
    sim.sum().backward()
    assert sim.item() == 0 and np.isfinite(z.grad.numpy()).all()
    d_ap = np.linalg.norm(a - b + 1e-6, axis=1)
    d_an = np.linalg.norm(a - c + 1e-6, axis=1)
    d_pn = np.linalg.norm(b - c + 1e-6, axis=1)
    close(F.triplet_margin_loss(ka, kb, kc, margin=2.0, reduction="none").numpy(),
          np.maximum(d_ap - d_an + 2.0, 0))
    close(nn.TripletMarginLoss(margin=2.0, swap=True)(ka, kb, kc).numpy(),
          np.maximum(d_ap - np.minimum(d_an, d_pn) + 2.0, 0).mean())


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_losses_match_torch(dtype, reduction):
    r = rng(2)
    x, t = r.standard_normal((4, 3, 2)), r.standard_normal((4, 3, 2))
    cases = [
        (nn.L1Loss(reduction=reduction), torch.nn.L1Loss(reduction=reduction)),
        (nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction)),
        (nn.SmoothL1Loss(reduction=reduction), torch.nn.SmoothL1Loss(reduction=reduction)),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.3),
         torch.nn.SmoothL1Loss(reduction=reduction, beta=0.3)),
        (nn.HuberLoss(reduction=reduction, delta=0.4),
         torch.nn.HuberLoss(reduction=reduction, delta=0.4)),
    ]
    for km, tm in cases:
        against_torch(km, tm, [x, t], dtype, noncontig=True)
    p = 1 / (1 + np.exp(-x))
    y = r.random((4, 3, 2))
    w = r.random((3, 2))
    pw = r.random(2) * 3
    tdt = torch.float32 if dtype == np.float32 else torch.float64

    def kt(a):
        return kiln.tensor(a.astype(dtype))

    def tt(a):
        return torch.tensor(a, dtype=tdt)

    against_torch(nn.BCELoss(kt(w), reduction=reduction),
                  torch.nn.BCELoss(tt(w), reduction=reduction), [p, y], dtype, noncontig=True)
    against_torch(nn.BCEWithLogitsLoss(kt(w), reduction=reduction, pos_weight=kt(pw)),
                  torch.nn.BCEWithLogitsLoss(tt(w), reduction=reduction, pos_weight=tt(pw)),
                  [x * 5, y], dtype, noncontig=True)
    against_torch(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                  lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                  [x, y], dtype)
    logp = np.log(p / p.sum(-1, keepdims=True))
    q = y / y.sum(-1, keepdims=True)
    q[0, 0, 0] = 0.0  # a zero target contributes 0, not NaN
    for red in (reduction, "batchmean"):
        against_torch(nn.KLDivLoss(reduction=red), torch.nn.KLDivLoss(reduction=red),
                      [logp, q], dtype, noncontig=True)
        against_torch(nn.KLDivLoss(reduction=red, log_target=True),
                      torch.nn.KLDivLoss(reduction=red, log_target=True),
                      [logp, np.log(y)], dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_losses_match_torch(dtype, reduction):
    r = rng(3)
    logits = r.standard_normal((6, 4))
    target = r.integers(0, 4, size=6)
    target[1] = 2
    w = r.random(4) + 0.5
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    kw, tw = kiln.tensor(w.astype(dtype)), torch.tensor(w, dtype=tdt)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    against_torch(nn.NLLLoss(kw, ignore_index=2, reduction=reduction),
                  torch.nn.NLLLoss(tw, ignore_index=2, reduction=reduction),
                  [logp, target], dtype, noncontig=True)
    against_torch(nn.CrossEntropyLoss(kw, reduction=reduction, label_smoothing=0.1),
                  torch.nn.CrossEntropyLoss(tw, reduction=reduction, label_smoothing=0.1),
                  [logits, target], dtype)
    # Class probabilities as the target: [N, C] and [N, C, d].
    probs = r.random((6, 4))
    probs /= probs.sum(1, keepdims=True)
    for ls in (0.0, 0.2):
        against_torch(nn.CrossEntropyLoss(kw, reduction=reduction, label_smoothing=ls),
                      torch.nn.CrossEntropyLoss(tw, reduction=reduction, label_smoothing=ls),
                      [logits, probs], dtype, noncontig=True)
    probs3 = r.random((2, 4, 3))
    against_torch(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                  lambda a, b: TF.cross_entropy(a, b, reduction=reduction),
                  [r.standard_normal((2, 4, 3)), probs3 / probs3.sum(1, keepdims=True)], dtype)
    a, p, n = (r.standard_normal((5, 3)) for _ in range(3))
    for kwargs in ({}, {"margin": 0.5, "p": 1.0, "swap": True}, {"p": 3.0, "eps": 1e-3}):
        against_torch(nn.TripletMarginLoss(reduction=reduction, **kwargs),
                      torch.nn.TripletMarginLoss(reduction=reduction, **kwargs), [a, p, n],
                      dtype, noncontig=True)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_distances_match_torch(dtype):
    r = rng(4)
    a, b = r.standard_normal((4, 5)), r.standard_normal((4, 5))
    for dim in (0, 1, -1):
        against_torch(nn.CosineSimilarity(dim), torch.nn.CosineSimilarity(dim), [a, b], dtype,
                      noncontig=True)
    # Norms below eps are clamped one by one, as torch's (forward only: torch's gradient
    # there comes from clamping its norms in place outside autograd).
    tiny = a * 1e-5
    tiny[0] *= 1e3
    against_torch(lambda x, y: F.cosine_similarity(x, y, 1, 1e-3),
                  lambda x, y: TF.cosine_similarity(x, y, 1, 1e-3), [tiny, b * 1e-3], dtype,
                  grad=False)
    for p in (1.0, 2.0, 3.5):
        for keepdim in (False, True):
            against_torch(nn.PairwiseDistance(p, keepdim=keepdim),
                          torch.nn.PairwiseDistance(p, keepdim=keepdim), [a, b], dtype,
                          noncontig=True)


def test_loss_errors():
    x = kiln.randn(3, 4)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.smooth_l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(kiln.rand(3, 4), kiln.rand(4, 3))
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(x, kiln.rand(3))
    with pytest.raises(TypeError, match="one dtype"):
        F.huber_loss(x, x.double())
    with pytest.raises(TypeError, match="floating"):
        F.kl_div(kiln.ones(2, dtype=kiln.int64), kiln.ones(2, dtype=kiln.int64))
    # A target of the input's shape holds probabilities; any other holds class indices.
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(x, kiln.rand(3, 5))
    with pytest.raises(TypeError, match="one dtype, got float32 and int64"):
        F.cross_entropy(x, kiln.ones(3, 4, dtype=kiln.int64))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_loss(x, x, kiln.randn(4))
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0.0)


def test_weighted_losses_keep_their_weight_as_a_buffer():
    w = kiln.rand(4)
    loss = nn.CrossEntropyLoss(weight=w)
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert loss.to(kiln.float64).weight.dtype == kiln.float64


# ---- containers ---------------------------------------------------------------------------

def test_module_dict_and_parameter_containers():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    d["dec"] = nn.Linear(3, 1)
    assert list(d) == ["enc", "act", "dec"] and len(d) == 3 and "act" in d
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                    "dec.bias"]
    del d["act"]
    assert list(d.keys()) == ["enc", "dec"]
    d.update([("act", nn.Tanh())])
    assert isinstance(d.pop("act"), nn.Module) and len(d) == 2
    with pytest.raises(TypeError):
        d["x"] = 3
    pl = nn.ParameterList([kiln.ones(2), nn.Parameter(kiln.zeros(3))])
    pl.append(kiln.randn(1))
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 3
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert tuple(pl[-1].shape) == (1,) and len(pl[1:]) == 2
    pd = nn.ParameterDict({"a": kiln.ones(2)})
    pd["b"] = kiln.zeros(1)
    assert list(pd.state_dict()) == ["a", "b"] and isinstance(pd["b"], nn.Parameter)
    assert repr(pd) == ("ParameterDict(\n  (a): Parameter containing: [kiln.float32 of size 2]\n"
                        "  (b): Parameter containing: [kiln.float32 of size 1]\n)")


@needs_torch
def test_container_state_dict_keys_match_torch():
    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2),
                                              "b": torch.nn.BatchNorm1d(2)})
            self.scales = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2))])
            self.extra = torch.nn.ParameterDict({"z": torch.nn.Parameter(torch.zeros(1))})
            self.emb = torch.nn.Embedding(3, 2)

    class K(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.BatchNorm1d(2)})
            self.scales = nn.ParameterList([nn.Parameter(kiln.ones(2))])
            self.extra = nn.ParameterDict({"z": nn.Parameter(kiln.zeros(1))})
            self.emb = nn.Embedding(3, 2)

    load_from_torch(K(), T())


# ---- module state, to() and buffers -------------------------------------------------------

def test_non_persistent_buffers_and_to():
    m = nn.Module()
    m.register_buffer("kept", kiln.zeros(2))
    m.register_buffer("scratch", kiln.zeros(2), persistent=False)
    m.register_buffer("steps", kiln.zeros([], dtype=kiln.int32))
    assert list(m.state_dict()) == ["kept", "steps"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch", "steps"]
    m.to(kiln.float64)
    assert m.kept.dtype == kiln.float64 and m.scratch.dtype == kiln.float64
    assert m.steps.dtype == kiln.int32
    lin = nn.Linear(2, 2)
    assert lin.to("cpu") is lin and lin.weight.dtype == kiln.float32
    lin.to(kiln.zeros(1, dtype=kiln.float64))
    assert lin.weight.dtype == kiln.float64
    lin.to(device="cpu", dtype=kiln.float32)
    assert lin.bias.dtype == kiln.float32 and isinstance(lin.bias, nn.Parameter)
    with pytest.raises(RuntimeError, match="CPU only"):
        lin.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        lin.to(kiln.int64)
    with pytest.raises(TypeError, match="buffer"):
        m.register_buffer("bad", [1, 2])


# ---- hooks --------------------------------------------------------------------------------

def test_forward_hooks_see_and_replace_inputs_and_outputs():
    lin = nn.Linear(3, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: seen.append(("pre", m, len(args))))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(("post", tuple(out.shape))))
    x = kiln.randn(4, 3)
    y = lin(x)
    assert seen == [("pre", lin, 1), ("post", (4, 2))]
    h1.remove()
    h2.remove()
    h1.remove()  # removing twice is harmless
    lin(x)
    assert len(seen) == 2
    # A pre-hook's result replaces the arguments, a forward hook's the output.
    with lin.register_forward_pre_hook(lambda m, args: args[0] * 0):
        np.testing.assert_allclose(lin(x).detach().numpy(),
                                   np.broadcast_to(lin.bias.detach().numpy(), (4, 2)))
    np.testing.assert_allclose(lin(x).detach().numpy(), y.detach().numpy())
    handle = lin.register_forward_hook(lambda m, args, out: out.sum())
    assert lin(x).ndim == 0
    handle.remove()
    # Hooks on a child run when the parent calls it.
    net = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    calls = []
    net[1].register_forward_hook(lambda m, a, o: calls.append(float(o.amin().item())))
    net(x)
    assert calls and calls[0] >= 0
    with pytest.raises(TypeError, match="callable"):
        lin.register_forward_hook(3)


def test_full_backward_hook_gives_module_gradients_and_may_replace_them():
    lin = nn.Linear(3, 2).double()
    w = lin.weight.detach().numpy()
    record = []

    def hook(module, grad_input, grad_output):
        record.append((module, [g.numpy().copy() for g in grad_input],
                       [g.numpy().copy() for g in grad_output]))

    handle = lin.register_full_backward_hook(hook)
    x = kiln.tensor(rng(0).standard_normal((4, 3)), requires_grad=True)
    g = rng(1).standard_normal((4, 2))
    # x is also used outside the module: grad_input holds the module's part only.
    (lin(x) * kiln.tensor(g)).sum().add(x.sum()).backward()
    (module, grad_input, grad_output), = record
    assert module is lin
    close(grad_output[0], g)
    close(grad_input[0], g @ w)
    close(x.grad.numpy(), g @ w + 1)
    # Replacing grad_input changes what reaches x.
    handle.remove()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    x2 = kiln.tensor(rng(0).standard_normal((4, 3)), requires_grad=True)
    (lin(x2) * kiln.tensor(g)).sum().backward()
    close(x2.grad.numpy(), 3 * (g @ w))
    close(lin.weight.grad.numpy(), 2 * g.T @ x2.detach().numpy())


def test_backward_hook_with_inputs_that_need_no_grad():
    lin = nn.Linear(3, 2).double()
    record = []
    lin.register_full_backward_hook(lambda m, gi, go: record.append((gi, go[0].numpy())))
    g = rng(2).standard_normal((5, 2))
    lin(kiln.tensor(rng(3).standard_normal((5, 3)))).backward(kiln.tensor(g))
    (grad_input, grad_output), = record
    assert grad_input == (None,)
    close(grad_output, g)
    bad = nn.Linear(3, 2)
    bad.register_full_backward_hook(lambda m, gi, go: (kiln.ones(1),))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        bad(kiln.randn(2, 3)).sum().backward()
    wrong = nn.Linear(3, 2)
    wrong.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        wrong(kiln.randn(2, 3, requires_grad=True)).sum().backward()


@needs_torch
def test_hooks_agree_with_torch_on_a_two_input_module():
    class KAdd(nn.Module):
        def forward(self, a, b, scale):
            return a * b * scale, a + b

    class TAdd(torch.nn.Module):
        def forward(self, a, b, scale):
            return a * b * scale, a + b

    a = rng(0).standard_normal((2, 3))
    b = rng(1).standard_normal((2, 3))
    results = []
    for lib, mod in ((kiln, KAdd()), (torch, TAdd())):
        got = []
        mod.register_full_backward_hook(
            lambda m, gi, go, got=got: got.append(
                ([None if t is None else np.asarray(t.numpy()) for t in gi],
                 [None if t is None else np.asarray(t.numpy()) for t in go])))
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b)  # needs no grad: None in grad_input
        p, s = mod(ta, tb, 2.0)
        (p.sum() * 2 + (s * s).sum()).backward()
        results.append((got[0], ta.grad.numpy()))
    (k_in, k_out), k_grad = results[0]
    (t_in, t_out), t_grad = results[1]
    # b needs no gradient: kiln gives None; torch 1.13 gives zeros there.
    assert [x is None for x in k_in] == [False, True, True]
    assert t_in[1] is None or not t_in[1].any()
    close(k_in[0], t_in[0])
    for ko, to in zip(k_out, t_out):
        close(ko, to)
    close(k_grad, t_grad)


# ---- empty batches ------------------------------------------------------------------------

@needs_torch
def test_empty_batches_match_torch():
    dtype = np.float64
    torch.manual_seed(0)
    for km, tm, shapes in [
        (nn.LayerNorm(5), torch.nn.LayerNorm(5), [(0, 5)]),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4), [(0, 4, 2)]),
        (nn.Conv1d(2, 3, 2), torch.nn.Conv1d(2, 3, 2), [(0, 2, 5)]),
        (nn.ConvTranspose2d(2, 3, 2), torch.nn.ConvTranspose2d(2, 3, 2), [(0, 2, 3, 3)]),
        (nn.Bilinear(2, 3, 4), torch.nn.Bilinear(2, 3, 4), [(0, 2), (0, 3)]),
        (nn.BatchNorm1d(3).eval(), torch.nn.BatchNorm1d(3).eval(), [(0, 3)]),
        (nn.AdaptiveAvgPool2d(2), torch.nn.AdaptiveAvgPool2d(2), [(0, 2, 4, 4)]),
    ]:
        km, tm = km.double(), tm.double()
        load_from_torch(km, tm)
        against_torch(km, tm, [np.zeros(s) for s in shapes], dtype)
    emb = torch.nn.Embedding(3, 2).double()
    kemb = nn.Embedding(3, 2).double()
    load_from_torch(kemb, emb)
    against_torch(kemb, emb, [np.zeros((2, 0), dtype=np.int64)], dtype)
    e = np.zeros((0, 3))
    for kfn, tfn in [(F.smooth_l1_loss, TF.smooth_l1_loss), (F.binary_cross_entropy,
                                                            TF.binary_cross_entropy),
                     (F.cosine_similarity, TF.cosine_similarity),
                     (F.pairwise_distance, TF.pairwise_distance)]:
        against_torch(kfn, tfn, [e, e], dtype)
    against_torch(lambda a, b: F.cross_entropy(a, b, reduction="sum"),
                  lambda a, b: TF.cross_entropy(a, b, reduction="sum"), [e, e], dtype)
    against_torch(lambda a, b, c: F.triplet_margin_loss(a, b, c, reduction="sum"),
                  lambda a, b, c: TF.triplet_margin_loss(a, b, c, reduction="sum"), [e, e, e],
                  dtype)


# ---- reprs match torch's ------------------------------------------------------------------

@needs_torch
def test_reprs_match_torch():
    pairs = [
        (nn.BatchNorm1d(4, momentum=None, affine=False),
         torch.nn.BatchNorm1d(4, momentum=None, affine=False)),
        (nn.LayerNorm((2, 3), elementwise_affine=False),
         torch.nn.LayerNorm((2, 3), elementwise_affine=False)),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (nn.Embedding(10, 3), torch.nn.Embedding(10, 3)),
        (nn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect"),
         torch.nn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect")),
        (nn.ConvTranspose2d(3, 4, 2, stride=2, output_padding=1, bias=False),
         torch.nn.ConvTranspose2d(3, 4, 2, stride=2, output_padding=1, bias=False)),
        (nn.AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None))),
        (nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
        (nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1, inplace=True)),
        (nn.Sequential(nn.Conv1d(2, 2, 1), nn.BatchNorm1d(2), nn.ELU()),
         torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1), torch.nn.BatchNorm1d(2),
                             torch.nn.ELU())),
    ]
    for k, t in pairs:
        assert repr(k) == repr(t)
