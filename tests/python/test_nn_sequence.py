# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn's recurrent and attention layers from Python: outputs and every gradient
against torch 1.13 with the same weights copied across (skipped without torch), and,
without torch, torch's state_dict keys, shapes, float64 finite differences, dropout modes,
training, and the errors bad input raises."""
import math

import numpy as np
import pytest

import kiln
import kiln.nn as nn
import kiln.nn.functional as F

try:
    import torch
except ImportError:  # the tests that compare with torch skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not importable")
rng = np.random.default_rng(0)
TOL = 1e-10


def randn(*shape):
    return rng.standard_normal(shape)


def pair(a, requires_grad=True):
    """The same float64 values as a kiln and a torch leaf."""
    return (kiln.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def close(k, t, tol=TOL):
    np.testing.assert_allclose(k.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def copy_to_torch(kmod, tmod):
    """Loads kiln's parameters into the torch module; their state_dict keys must agree."""
    sd = kmod.state_dict()
    tmod = tmod.double()
    assert list(sd) == list(tmod.state_dict())
    tmod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()})
    return tmod


def backward_both(k_outs, t_outs):
    """Backpropagates sum(out * R) for a random R per output through both graphs."""
    k_loss, t_loss = 0, 0
    for k, t in zip(k_outs, t_outs):
        r = randn(*k.shape)
        k_loss = k_loss + (k * kiln.tensor(r)).sum()
        t_loss = t_loss + (t * torch.tensor(r)).sum()
    k_loss.backward()
    t_loss.backward()


def close_grads(kmod, tmod, tol=TOL):
    tparams = dict(tmod.named_parameters())
    for name, p in kmod.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=tol,
                                   atol=tol, err_msg=name)


# ---- LSTM and GRU against torch ----------------------------------------------------------

RNN_CONFIGS = [
    # num_layers, bidirectional, batch_first, bias, unbatched, given state, non-contiguous
    (1, False, False, True, False, False, False),
    (2, True, False, True, False, True, False),
    (2, False, True, True, False, True, True),
    (1, True, True, False, False, False, False),
    (2, True, False, True, True, True, False),
    (1, False, True, True, True, False, False),
    (2, True, True, True, False, False, True),
]


@needs_torch
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("cfg", RNN_CONFIGS)
def test_lstm_gru_match_torch(mode, cfg):
    layers, bidir, batch_first, bias, unbatched, given, noncontig = cfg
    L, N, In, H = 5, 3, 4, 6
    kmod = getattr(nn, mode)(In, H, num_layers=layers, bias=bias, batch_first=batch_first,
                             bidirectional=bidir, dtype=kiln.float64)
    tmod = copy_to_torch(kmod, getattr(torch.nn, mode)(In, H, num_layers=layers, bias=bias,
                                                       batch_first=batch_first,
                                                       bidirectional=bidir))
    shape = (L, In) if unbatched else ((N, L, In) if batch_first else (L, N, In))
    if noncontig:  # the same values, laid out with the first two dims swapped
        base = randn(shape[1], shape[0], *shape[2:])
        kb, tb = pair(base)
        kx, tx = kb.transpose(0, 1), tb.transpose(0, 1)
        assert not kx.is_contiguous()
    else:
        kx, tx = pair(randn(*shape))
    K = layers * (2 if bidir else 1)
    sshape = (K, H) if unbatched else (K, N, H)
    ks, ts = [], []
    if given:
        for _ in range(2 if mode == "LSTM" else 1):
            k, t = pair(randn(*sshape))
            ks.append(k)
            ts.append(t)
    if mode == "LSTM":
        kout, (kh, kc) = kmod(kx, tuple(ks) if given else None)
        tout, (th, tc) = tmod(tx, tuple(ts) if given else None)
        close(kc, tc)
        outs = ([kout, kh, kc], [tout, th, tc])
    else:
        kout, kh = kmod(kx, ks[0] if given else None)
        tout, th = tmod(tx, ts[0] if given else None)
        outs = ([kout, kh], [tout, th])
    assert kout.shape == tuple(tout.shape) and kh.shape == tuple(th.shape)
    close(kout, tout)
    close(kh, th)
    backward_both(*outs)
    close_grads(kmod, tmod)
    if noncontig:
        close(kb.grad, tb.grad)
    else:
        close(kx.grad, tx.grad)
    for k, t in zip(ks, ts):
        close(k.grad, t.grad)


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given", [True, False])
def test_cells_match_torch(bias, batched, given):
    N, In, H = 3, 4, 5
    lead = (N,) if batched else ()
    for name in ("LSTMCell", "GRUCell"):
        kmod = getattr(nn, name)(In, H, bias=bias, dtype=kiln.float64)
        tmod = copy_to_torch(kmod, getattr(torch.nn, name)(In, H, bias=bias))
        kx, tx = pair(randn(*lead, In))
        states = [pair(randn(*lead, H)) for _ in range(2 if name == "LSTMCell" else 1)]
        ks, ts = [s[0] for s in states], [s[1] for s in states]
        if name == "LSTMCell":
            kout = list(kmod(kx, tuple(ks) if given else None))
            tout = list(tmod(tx, tuple(ts) if given else None))
        else:
            kout = [kmod(kx, ks[0] if given else None)]
            tout = [tmod(tx, ts[0] if given else None)]
        for k, t in zip(kout, tout):
            assert k.shape == tuple(t.shape)
            close(k, t)
        backward_both(kout, tout)
        close_grads(kmod, tmod)
        close(kx.grad, tx.grad)
        if given:
            for k, t in zip(ks, ts):
                close(k.grad, t.grad)


# ---- attention against torch -------------------------------------------------------------

def sdpa_reference(q, k, v, mask=None, is_causal=False, scale=None):
    """torch's SDPA math, spelt out (torch 1.13 has no public scaled_dot_product_attention)."""
    s = q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if is_causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    if mask is not None and mask.dtype == torch.bool:
        s = s.masked_fill(~mask, float("-inf"))
    elif mask is not None:
        s = s + mask
    return torch.softmax(s, -1) @ v


@needs_torch
@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "broadcast",
                                  "cross_causal"])
def test_sdpa_matches_torch_math(case):
    B, Hh, L, S, E, Ev = 2, 3, 4, 5, 6, 7
    qs, ks = (B, Hh, L, E), (B, Hh, S, E)
    if case == "broadcast":
        qs, ks = (B, 1, L, E), (Hh, S, E)
    if case == "causal":
        ks = (B, Hh, L, E)
    kq, tq = pair(randn(*qs))
    kk, tk = pair(randn(*ks))
    kv, tv = pair(randn(*ks[:-1], Ev))
    kwargs, tmask = {}, None
    if case == "bool":
        m = rng.random((L, S)) < 0.6
        m[:, 0] = True  # every query keeps a key
        kwargs["attn_mask"], tmask = kiln.tensor(m), torch.tensor(m)
    elif case == "float":
        m = randn(B, 1, L, S)
        kwargs["attn_mask"], tmask = kiln.tensor(m), torch.tensor(m)
    elif case in ("causal", "cross_causal"):
        kwargs["is_causal"] = True
    elif case == "scale":
        kwargs["scale"] = 0.3
    kout = F.scaled_dot_product_attention(kq, kk, kv, **kwargs)
    tout = sdpa_reference(tq, tk, tv, tmask, kwargs.get("is_causal", False), kwargs.get("scale"))
    assert kout.shape == tuple(tout.shape)
    close(kout, tout)
    backward_both([kout], [tout])
    for k, t in ((kq, tq), (kk, tk), (kv, tv)):
        close(k.grad, t.grad)


MHA_CONFIGS = [
    # kind of inputs, kdim/vdim, batch_first, unbatched, bias
    ("self", False, False, False, True),
    ("self", False, True, False, True),
    ("cross", False, False, False, True),
    ("cross", True, True, False, True),
    ("separate", False, False, False, True),
    ("self", False, False, True, True),
    ("cross", True, False, True, False),
    ("self", False, True, False, False),
]

MASKS = ["none", "bool_attn", "float_attn_3d", "bool_kpm", "float_kpm", "bool_both",
         "float_attn_bool_kpm", "causal"]


def mha_inputs(kind, kdim, batch_first, unbatched, E, L, S, N):
    """The query, key and value arrays; `same` says which inputs are one tensor (0 = the
    query's, 1 = the key's), as self- and cross-attention pass them."""
    def shaped(length, dim):
        if unbatched:
            return (length, dim)
        return (N, length, dim) if batch_first else (length, N, dim)
    q = randn(*shaped(L, E))
    if kind == "self":
        return [q], [0, 0, 0]
    kd, vd = (3, 5) if kdim else (E, E)
    k = randn(*shaped(S, kd))
    if kind == "cross" and not kdim:
        return [q, k], [0, 1, 1]
    return [q, k, randn(*shaped(S, vd))], [0, 1, 2]


def mha_masks(which, L, S, N, heads, unbatched):
    """(kiln kwargs, torch kwargs) for one mask case; no query loses every key."""
    k, t = {}, {}

    def both(name, a):
        k[name], t[name] = kiln.tensor(a), torch.tensor(a)
    blocked = rng.random((L, S)) < 0.4
    blocked[:, 0] = False
    kpm = np.zeros((S,) if unbatched else (N, S), bool)
    kpm[..., -1] = True
    if which in ("bool_attn", "bool_both"):
        both("attn_mask", blocked)
    if which == "float_attn_3d":
        both("attn_mask", randn(N * heads, L, S))
    if which in ("bool_kpm", "bool_both", "float_attn_bool_kpm"):
        both("key_padding_mask", kpm)
    if which == "float_kpm":
        both("key_padding_mask", np.where(kpm, -2.5, 0.5))
    if which == "float_attn_bool_kpm":
        both("attn_mask", randn(L, S))
    if which == "causal":  # torch 1.13 has no is_causal: the explicit mask there
        k["is_causal"] = True
        t["attn_mask"] = torch.ones(L, S, dtype=torch.bool).triu(1)
    return k, t


@needs_torch
@pytest.mark.parametrize("cfg", MHA_CONFIGS)
@pytest.mark.parametrize("masks", MASKS)
def test_multihead_attention_matches_torch(cfg, masks):
    kind, kdim, batch_first, unbatched, bias = cfg
    if unbatched and masks == "float_attn_3d":
        pytest.skip("a 3-d attn_mask needs a batch")
    E, heads, L, S, N = 8, 2, 4, 6 if kind != "self" else 4, 3
    dims = {"kdim": 3, "vdim": 5} if kdim else {}
    if kind == "separate":  # distinct q, k, v of width E: the packed weight, three GEMMs
        dims = {}
    kmod = nn.MultiheadAttention(E, heads, bias=bias, batch_first=batch_first,
                                 dtype=kiln.float64, **dims)
    tmod = copy_to_torch(kmod, torch.nn.MultiheadAttention(E, heads, bias=bias,
                                                           batch_first=batch_first, **dims))
    arrays, same = mha_inputs(kind, kdim, batch_first, unbatched, E, L, S, N)
    kmask, tmask = mha_masks(masks, L, S, N, heads, unbatched)
    for need, average in ((True, True), (True, False), (False, True)):
        for m in (kmod, tmod):
            m.zero_grad()
        leaves = [pair(a) for a in arrays]
        kout, kw = kmod(*[leaves[i][0] for i in same], need_weights=need,
                        average_attn_weights=average, **kmask)
        tout, tw = tmod(*[leaves[i][1] for i in same], need_weights=need,
                        average_attn_weights=average, **tmask)
        assert kout.shape == tuple(tout.shape)
        close(kout, tout)
        if need:
            assert kw.shape == tuple(tw.shape)
            close(kw, tw)
        else:
            assert kw is None and tw is None
        backward_both([kout] + ([kw] if need else []), [tout] + ([tw] if need else []))
        close_grads(kmod, tmod)
        for k, t in leaves:
            close(k.grad, t.grad)


@needs_torch
def test_functional_multi_head_attention_forward_matches_torch():
    E, heads, L, S, N = 6, 3, 4, 5, 2
    kq, tq = pair(randn(L, N, E))
    kk, tk = pair(randn(S, N, E))
    kv, tv = pair(randn(S, N, E))
    w = [pair(randn(*s)) for s in ((3 * E, E), (3 * E,), (E, E), (E,))]
    kpm = np.zeros((N, S), bool)
    kpm[1, 3:] = True
    kw = dict(key_padding_mask=kiln.tensor(kpm))
    tw = dict(key_padding_mask=torch.tensor(kpm))
    def args(side, q, k, v, embed_dim=E):
        return (q, k, v, embed_dim, heads, w[0][side], w[1][side], None, None, False, 0.0,
                w[2][side], w[3][side])

    kout, katt = F.multi_head_attention_forward(*args(0, kq, kk, kv), **kw)
    tout, tatt = torch.nn.functional.multi_head_attention_forward(*args(1, tq, tk, tv), **tw)
    close(kout, tout)
    close(katt, tatt)
    backward_both([kout, katt], [tout, tatt])
    for k, t in [(kq, tq), (kk, tk), (kv, tv)] + w:
        close(k.grad, t.grad)
    # Separate projection weights.
    sep = [pair(randn(E, E)) for _ in range(3)]
    kout, _ = F.multi_head_attention_forward(
        kq, kk, kv, E, heads, None, w[1][0], None, None, False, 0.0, w[2][0], w[3][0],
        use_separate_proj_weight=True, q_proj_weight=sep[0][0], k_proj_weight=sep[1][0],
        v_proj_weight=sep[2][0])
    tout, _ = torch.nn.functional.multi_head_attention_forward(
        tq, tk, tv, E, heads, None, w[1][1], None, None, False, 0.0, w[2][1], w[3][1],
        use_separate_proj_weight=True, q_proj_weight=sep[0][1], k_proj_weight=sep[1][1],
        v_proj_weight=sep[2][1])
    close(kout, tout)
    with pytest.raises(ValueError, match="expecting embedding dimension of 7"):
        F.multi_head_attention_forward(*args(0, kq, kk, kv, embed_dim=7))
    with pytest.raises(ValueError, match="bias_k"):
        F.multi_head_attention_forward(kq, kk, kv, E, heads, w[0][0], w[1][0], kq, kq, False,
                                       0.0, w[2][0], w[3][0])


TRANSFORMER_CONFIGS = [
    # norm_first, activation, batch_first, masks, unbatched
    (False, "relu", False, "none", False),
    (True, "gelu", True, "both", False),
    (False, "gelu", True, "kpm", False),
    (True, "relu", False, "attn", False),
    (False, "relu", False, "none", True),
]


@needs_torch
@pytest.mark.parametrize("cfg", TRANSFORMER_CONFIGS)
@pytest.mark.parametrize("train", [False, True])
def test_transformer_encoder_matches_torch(cfg, train):
    norm_first, act, batch_first, masks, unbatched = cfg
    E, heads, S, N, Fd = 8, 2, 5, 3, 12
    kwargs = dict(dim_feedforward=Fd, dropout=0.0, activation=act, batch_first=batch_first,
                  norm_first=norm_first)
    klayer = nn.TransformerEncoderLayer(E, heads, dtype=kiln.float64, **kwargs)
    kenc = nn.TransformerEncoder(klayer, 2, norm=nn.LayerNorm(E, dtype=kiln.float64))
    for p in kenc.parameters():  # away from torch's init (zero biases, unit norms)
        with kiln.no_grad():
            p[...] = kiln.tensor(randn(*p.shape) * 0.5)
    tenc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, heads, **kwargs), 2,
                                       norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    tenc = copy_to_torch(kenc, tenc)
    kenc.train(train)
    tenc.train(train)
    shape = (S, E) if unbatched else ((N, S, E) if batch_first else (S, N, E))
    kx, tx = pair(randn(*shape))
    km, tm = {}, {}
    if masks in ("attn", "both"):
        m = np.triu(np.ones((S, S), bool), 1)
        km["mask"], tm["mask"] = kiln.tensor(m), torch.tensor(m)
    if masks in ("kpm", "both"):
        kpm = np.zeros((N, S), bool)
        kpm[0, -2:] = True
        km["src_key_padding_mask"], tm["src_key_padding_mask"] = kiln.tensor(kpm), \
            torch.tensor(kpm)
    kout, tout = kenc(kx, **km), tenc(tx, **tm)
    assert kout.shape == tuple(tout.shape)
    close(kout, tout)
    backward_both([kout], [tout])
    close_grads(kenc, tenc)
    close(kx.grad, tx.grad)


# ---- without torch: names, shapes, gradients, modes, errors ------------------------------

def test_state_dict_keys_are_torchs():
    assert list(nn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict()) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
        "bias_hh_l1_reverse"]
    gru = nn.GRU(5, 2, num_layers=2, bias=False)
    assert [(k, v.shape) for k, v in gru.state_dict().items()] == [
        ("weight_ih_l0", (6, 5)), ("weight_hh_l0", (6, 2)), ("weight_ih_l1", (6, 2)),
        ("weight_hh_l1", (6, 2))]
    assert [(k, v.shape) for k, v in nn.LSTMCell(5, 2).state_dict().items()] == [
        ("weight_ih", (8, 5)), ("weight_hh", (8, 2)), ("bias_ih", (8,)), ("bias_hh", (8,))]
    assert list(nn.GRUCell(5, 2, bias=False).state_dict()) == ["weight_ih", "weight_hh"]
    assert nn.GRUCell(5, 2, bias=False).bias_ih is None
    assert list(nn.MultiheadAttention(8, 2).state_dict()) == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert [(k, v.shape) for k, v in sep.state_dict().items()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)),
        ("out_proj.weight", (8, 8))]
    assert sep.in_proj_weight is None and sep.in_proj_bias is None
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
        "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    enc = nn.TransformerEncoder(layer, 2)
    keys = list(enc.state_dict())
    assert len(keys) == 24 and keys[12] == "layers.1.self_attn.in_proj_weight"


def test_reprs_are_torchs():
    assert repr(nn.LSTM(10, 20)) == "LSTM(10, 20)"
    assert repr(nn.GRU(10, 20, num_layers=3, bias=False, batch_first=True, dropout=0.25,
                       bidirectional=True)) == (
        "GRU(10, 20, num_layers=3, bias=False, batch_first=True, dropout=0.25, "
        "bidirectional=True)")
    assert repr(nn.LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"
    assert repr(nn.MultiheadAttention(8, 2)) == (
        "MultiheadAttention(\n"
        "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, "
        "bias=True)\n)")


def test_initialisation_ranges():
    kiln.manual_seed(3)
    lstm = nn.LSTM(8, 25, num_layers=2)
    bound = 1 / math.sqrt(25)
    for p in lstm.parameters():
        a = np.abs(p.detach().numpy())
        assert a.max() <= bound and a.max() > 0.9 * bound
    mha = nn.MultiheadAttention(8, 2)
    w = np.abs(mha.in_proj_weight.detach().numpy())
    assert w.max() <= math.sqrt(6 / 32) and w.max() > 0.8 * math.sqrt(6 / 32)
    assert not mha.in_proj_bias.detach().numpy().any()
    assert not mha.out_proj.bias.detach().numpy().any()
    assert all(p.requires_grad for p in mha.parameters())


def test_shapes_and_states():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    out, (h, c) = lstm(kiln.randn(2, 7, 3))
    assert out.shape == (2, 7, 8) and h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    out, (h, c) = lstm(kiln.randn(7, 3))  # unbatched
    assert out.shape == (7, 8) and h.shape == (4, 4)
    out, h = nn.GRU(3, 4)(kiln.randn(6, 0, 3))  # an empty batch
    assert out.shape == (6, 0, 4) and h.shape == (1, 0, 4)
    # Two halves with the state handed over give the whole sequence.
    gru = nn.GRU(3, 4, num_layers=2, dtype=kiln.float64)
    x = kiln.randn(6, 2, 3, dtype=kiln.float64)
    whole, h_whole = gru(x)
    first, h_first = gru(x[:4])
    second, h_second = gru(x[4:], h_first)
    np.testing.assert_allclose(second.detach().numpy(), whole[4:].detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(h_second.detach().numpy(), h_whole.detach().numpy(), atol=1e-14)
    h, c = nn.LSTMCell(3, 4)(kiln.randn(3))
    assert h.shape == (4,) and c.shape == (4,)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q, kv = kiln.randn(2, 3, 8), kiln.randn(2, 5, 8)
    out, w = mha(q, kv, kv, average_attn_weights=False)
    assert out.shape == (2, 3, 8) and w.shape == (2, 2, 3, 5)
    out, w = mha(q, kv, kv, need_weights=False)
    assert w is None
    assert F.scaled_dot_product_attention(kiln.randn(2, 3, 4), kiln.randn(5, 4),
                                          kiln.randn(5, 7)).shape == (2, 3, 7)


@pytest.mark.parametrize("dtype", [kiln.float16, kiln.bfloat16])
def test_half_precision_runs_close_to_float32(dtype):
    kiln.manual_seed(9)
    x = kiln.randn(5, 2, 3)
    for make in (lambda d: nn.LSTM(3, 4, num_layers=2, dtype=d),
                 lambda d: nn.GRU(3, 4, bidirectional=True, dtype=d)):
        low = make(dtype)
        full = make(kiln.float32)
        full.load_state_dict({k: v.float() for k, v in low.state_dict().items()})
        out = low(x.to(dtype))[0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out.float().detach().numpy(), full(x)[0].detach().numpy(),
                                   atol=2e-2)
        out.float().sum().backward()
        assert all(p.grad.dtype == dtype for p in low.parameters())
    y = kiln.randn(3, 2, 4)
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, dtype=dtype).eval()
    full = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).eval()
    full.load_state_dict({k: v.float() for k, v in layer.state_dict().items()})
    np.testing.assert_allclose(layer(y.to(dtype)).float().detach().numpy(),
                               full(y).detach().numpy(), atol=0.1)


def test_lstm_gradients_match_finite_differences():
    kiln.manual_seed(5)
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=kiln.float64)
    x = kiln.tensor(randn(4, 2, 2), requires_grad=True)
    h0 = kiln.tensor(randn(4, 2, 3), requires_grad=True)
    c0 = kiln.tensor(randn(4, 2, 3), requires_grad=True)
    r_out, r_c = kiln.tensor(randn(4, 2, 6)), kiln.tensor(randn(4, 2, 3))

    def loss():
        out, (h, c) = lstm(x, (h0, c0))
        return (out * r_out).sum() + (c * r_c).sum()

    loss().backward()
    checked = [x, h0, c0] + list(lstm.parameters())
    grads = [t.grad.numpy().copy() for t in checked]
    eps = 1e-6
    for t, g in zip(checked, grads):
        flat = g.reshape(-1)
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            idx = tuple(int(j) for j in np.unravel_index(i, g.shape))
            with kiln.no_grad():
                v = t[idx].item()
                t[idx] = v + eps
                up = loss().item()
                t[idx] = v - eps
                down = loss().item()
                t[idx] = v
            assert abs((up - down) / (2 * eps) - flat[i]) < 1e-6, (t.shape, idx)


def test_gru_cell_gradient_matches_finite_differences():
    cell = nn.GRUCell(3, 2, dtype=kiln.float64)
    x = kiln.tensor(randn(2, 3), requires_grad=True)
    h = kiln.tensor(randn(2, 2), requires_grad=True)
    r = kiln.tensor(randn(2, 2))
    (cell(x, h) * r).sum().backward()
    eps = 1e-6
    for t in (x, h, cell.weight_hh):
        g = t.grad.numpy().copy()
        num = np.zeros_like(g)
        for idx in np.ndindex(*g.shape):
            with kiln.no_grad():
                v = t[idx].item()
                t[idx] = v + eps
                up = (cell(x, h) * r).sum().item()
                t[idx] = v - eps
                down = (cell(x, h) * r).sum().item()
                t[idx] = v
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, num, atol=1e-7)


def test_one_cpp_call_per_forward(monkeypatch):
    calls = []
    real = kiln._C._lstm

    def counting(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(kiln._C, "_lstm", counting)
    lstm = nn.LSTM(3, 4, num_layers=3, bidirectional=True)
    for L in (1, 50):
        calls.clear()
        lstm(kiln.randn(L, 2, 3))
        assert calls == [(L, 2, 3)]


def test_dropout_between_layers_only_in_training():
    kiln.manual_seed(7)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=kiln.float64)
    x = kiln.randn(5, 2, 3, dtype=kiln.float64)
    a, b = lstm(x)[0].detach().numpy(), lstm(x)[0].detach().numpy()
    assert np.abs(a - b).max() > 1e-3  # a fresh mask each call
    lstm.eval()
    e1, e2 = lstm(x)[0].detach().numpy(), lstm(x)[0].detach().numpy()
    assert np.array_equal(e1, e2) and np.abs(a - e1).max() > 1e-3
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)

    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.5,
                                       dtype=kiln.float64)
    y = kiln.randn(5, 3, 4, dtype=kiln.float64)
    assert np.abs((layer(y) - layer(y)).detach().numpy()).max() > 1e-3
    layer.eval()
    assert np.array_equal(layer(y).detach().numpy(), layer(y).detach().numpy())
    # One site on: only the children in training mode drop.
    layer.dropout1.train()
    assert np.abs((layer(y) - layer(y)).detach().numpy()).max() > 1e-3


def test_fully_masked_query_gives_nan():
    mha = nn.MultiheadAttention(4, 2)
    x = kiln.randn(3, 1, 4)
    kpm = kiln.tensor([[True, True, True]])
    out, w = mha(x, x, x, key_padding_mask=kpm)
    assert np.isnan(out.detach().numpy()).all() and np.isnan(w.detach().numpy()).all()


def test_modules_train_and_convert():
    kiln.manual_seed(11)
    lstm = nn.LSTM(1, 8)
    head = nn.Linear(8, 1)
    x = kiln.rand(10, 16, 1)
    target = x.sum(0)  # the running sum's final value
    opt = kiln.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        out, (h, c) = lstm(x)
        loss = F.mse_loss(head(h[0]), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    lstm.double()
    assert all(p.dtype == kiln.float64 for p in lstm.parameters())
    assert lstm(x.double())[0].dtype == kiln.float64
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 1).double()
    assert enc(kiln.randn(3, 2, 4, dtype=kiln.float64)).dtype == kiln.float64
    # A copied layer is independent of its prototype.
    proto = nn.TransformerEncoderLayer(4, 2, 8)
    enc = nn.TransformerEncoder(proto, 2)
    assert np.array_equal(enc.layers[1].linear1.weight.detach().numpy(),
                          proto.linear1.weight.detach().numpy())
    nn.init.zeros_(enc.layers[0].linear1.weight)
    assert np.abs(proto.linear1.weight.detach().numpy()).max() > 0
    assert np.abs(enc.layers[1].linear1.weight.detach().numpy()).max() > 0


def test_bad_input_raises_clearly():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(RuntimeError, match=r"\[nn::LSTM\] expected input \[L, N, 3\].*\[5, 2, 2\]"):
        lstm(kiln.zeros(5, 2, 2))
    with pytest.raises(RuntimeError, match=r"h_0 of shape \[4, 2, 4\].*got \[2, 2, 4\]"):
        lstm(kiln.zeros(5, 2, 3), (kiln.zeros(2, 2, 4), kiln.zeros(4, 2, 4)))
    with pytest.raises(RuntimeError, match="unbatched"):
        lstm(kiln.zeros(5, 3), (kiln.zeros(4, 1, 4), kiln.zeros(4, 1, 4)))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(kiln.zeros(5, 2, 3), kiln.zeros(4, 2, 4))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\) of tensors"):
        lstm(kiln.zeros(5, 2, 3), (kiln.zeros(4, 2, 4), None))
    with pytest.raises(TypeError, match="GRU: expected hx to be a kiln.Tensor"):
        nn.GRU(3, 4)(kiln.zeros(5, 2, 3), (kiln.zeros(1, 2, 4),))
    with pytest.raises(TypeError, match="float64"):
        lstm(kiln.zeros(5, 2, 3, dtype=kiln.float64))
    with pytest.raises(TypeError, match="packed sequences"):
        lstm([1, 2, 3])
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(3, 0)
    with pytest.raises(RuntimeError, match=r"\[nn::GRUCell\].*\[2, 2\]"):
        nn.GRUCell(3, 4)(kiln.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"expected h of shape \[2, 4\]"):
        nn.LSTMCell(3, 4)(kiln.zeros(2, 3), (kiln.zeros(3, 4), kiln.zeros(2, 4)))

    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="add_bias_kv"):
        nn.MultiheadAttention(6, 2, add_bias_kv=True)
    mha = nn.MultiheadAttention(8, 2)
    x = kiln.randn(3, 2, 8)
    with pytest.raises(RuntimeError, match=r"key_padding_mask must be \[2, 3\].*got \[2, 4\]"):
        mha(x, x, x, key_padding_mask=kiln.zeros(2, 4, dtype=kiln.bool))
    with pytest.raises(RuntimeError, match="attn_mask must be"):
        mha(x, x, x, attn_mask=kiln.zeros(3, 4, dtype=kiln.bool))
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=kiln.zeros(3, 3, dtype=kiln.int64))
    with pytest.raises(RuntimeError, match="expected embedding dims"):
        mha(kiln.randn(3, 2, 7), x, x)
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=kiln.ones(2, 3, 3, dtype=kiln.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match="relu"):
        nn.TransformerEncoderLayer(4, 2, activation=kiln.tanh)
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    with pytest.raises(RuntimeError, match=r"\[nn::TransformerEncoderLayer\] expected src"):
        layer(kiln.randn(3, 2, 5))
    layer.norm2.eps = 1e-3
    with pytest.raises(ValueError, match="norm1.eps"):
        layer(kiln.randn(3, 2, 4))
    layer.norm2 = nn.Identity()
    with pytest.raises(TypeError, match="norm2 must be a LayerNorm, got Identity"):
        layer(kiln.randn(3, 2, 4))


def test_encoder_layer_follows_its_attributes():
    kiln.manual_seed(12)
    relu = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, dtype=kiln.float64)
    gelu = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation=F.gelu,
                                      dtype=kiln.float64)
    gelu.load_state_dict(relu.state_dict())
    x = kiln.randn(3, 2, 4, dtype=kiln.float64)
    before = relu(x).detach().numpy()
    assert np.abs(before - gelu(x).detach().numpy()).max() > 1e-6
    relu.activation = "gelu"
    np.testing.assert_array_equal(relu(x).detach().numpy(), gelu(x).detach().numpy())
