# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim: every update rule against a numpy transcription of torch's documented rule
and against torch 1.13 itself, parameter groups, state_dict resume (bit for bit, through
kiln.save / kiln.load), the LR schedulers' sequences against torch's and hand values,
and gradient clipping."""
import math
import warnings

import numpy as np
import pytest

import kiln
import kiln.nn as nn
from kiln.optim import lr_scheduler as ls

try:
    import torch
except ImportError:  # the numpy references still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# Shapes of the parameters every rule is run on: a matrix, a vector, a 0-d scalar, an empty
# tensor and a transposed (non-contiguous) matrix (the fused pass falls back there).
SHAPES = [(3, 4), (5,), (), (0, 3), (4, 3)]


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in SHAPES]
    params = []
    for i, v in enumerate(values):
        t = kiln.tensor(v.T.copy() if i == 4 else v, dtype=dtype)
        if i == 4:
            t = t.t()
            assert not t.is_contiguous()
        params.append(nn.Parameter(t))
    return params, [np.array(v, dtype=np.float64) for v in values]


def grads_for(step, seed=1):
    rng = np.random.default_rng(seed + 100 * step)
    return [rng.standard_normal(s) for s in SHAPES]


def set_grads(params, grads):
    # loss = sum(p * c) has gradient exactly c, so every library sees the same gradients.
    for p, g in zip(params, grads):
        p._zero_grad(True)
        (p * kiln.tensor(g, dtype=p.dtype)).sum().backward()


# ---- numpy transcriptions of torch's documented update rules ---------------------------


def np_sgd(p, g, st, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False,
           maximize=False):
    g = -g if maximize else g
    d = g + weight_decay * p
    if momentum:
        st["buf"] = d.copy() if "buf" not in st else momentum * st["buf"] + (1 - dampening) * d
        d = d + momentum * st["buf"] if nesterov else st["buf"]
    return p - lr * d


def np_adam(p, g, st, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
            maximize=False, decoupled=False):
    g = -g if maximize else g
    b1, b2 = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    t = st["t"] = st.get("t", 0) + 1
    m = st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    v = st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0), v)
    return p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)


def np_rmsprop(p, g, st, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
               centered=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    s = st["s"] = alpha * st.get("s", 0) + (1 - alpha) * g * g
    if centered:
        a = st["a"] = alpha * st.get("a", 0) + (1 - alpha) * g
        avg = np.sqrt(s - a * a) + eps
    else:
        avg = np.sqrt(s) + eps
    if momentum > 0:
        buf = st["buf"] = momentum * st.get("buf", 0) + g / avg
        return p - lr * buf
    return p - lr * g / avg


def np_adagrad(p, g, st, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
               eps=1e-10, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    t = st["t"] = st.get("t", 0) + 1
    s = st["sum"] = st.get("sum", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


CASES = [
    ("SGD", np_sgd, dict(lr=0.1)),
    ("SGD", np_sgd, dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05)),
    ("SGD", np_sgd, dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("Adam", np_adam, dict(lr=0.01)),
    ("Adam", np_adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                           amsgrad=True)),
    ("Adam", np_adam, dict(lr=0.01, maximize=True)),
    ("AdamW", np_adam, dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", np_adam, dict(lr=0.01, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("RMSprop", np_rmsprop, dict(lr=0.01)),
    ("RMSprop", np_rmsprop, dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5,
                                 centered=True)),
    ("RMSprop", np_rmsprop, dict(lr=0.02, momentum=0.3, maximize=True)),
    ("RMSprop", np_rmsprop, dict(lr=0.02, centered=True)),
    ("Adagrad", np_adagrad, dict(lr=0.1)),
    ("Adagrad", np_adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                 initial_accumulator_value=0.5, eps=1e-6, maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def ref_kwargs(name, kw):
    kw = dict(kw)
    if name == "AdamW":
        kw["decoupled"] = True
    return kw


@pytest.mark.parametrize("name,rule,kw", CASES, ids=IDS)
def test_rule_matches_numpy_transcription(name, rule, kw):
    params, ref = make_params(kiln.float64)
    opt = getattr(kiln.optim, name)(params, **kw)
    states = [{} for _ in params]
    for step in range(5):
        grads = grads_for(step)
        set_grads(params, grads)
        opt.step()
        ref = [rule(p, g, st, **ref_kwargs(name, kw)) for p, g, st in zip(ref, grads, states)]
        for got, want in zip(params, ref):
            np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-14)
    # Something moved: the test would catch an optimizer that does nothing.
    assert not np.allclose(params[0].detach().numpy(), make_params(kiln.float64)[1][0])


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,rule,kw", CASES, ids=IDS)
def test_rule_matches_torch(name, rule, kw, dtype):
    params, values = make_params(getattr(kiln, dtype))
    tparams = [torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for v in values]
    opt = getattr(kiln.optim, name)(params, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step in range(6):
        grads = grads_for(step)
        set_grads(params, grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g, dtype=tp.dtype)
        opt.step()
        topt.step()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), **tol)
    # The state has torch's names and values.
    for i, p in enumerate(params):
        tstate = topt.state[tparams[i]]
        assert set(opt.state[p]) == set(tstate)
        for k, v in tstate.items():
            if isinstance(v, torch.Tensor) and k != "step":
                np.testing.assert_allclose(opt.state[p][k].numpy(), v.numpy(), **tol)
            elif k == "step":
                assert opt.state[p][k] == int(v)
    ts, ks = topt.state_dict(), opt.state_dict()
    assert [sorted(g) for g in ks["param_groups"]] == [
        sorted(k for k in g if k not in ("capturable", "differentiable", "fused"))
        for g in ts["param_groups"]]
    assert sorted(ks["state"]) == sorted(ts["state"])


def test_step_is_one_call_per_parameter_without_history():
    p = nn.Parameter(kiln.ones(3))
    opt = kiln.optim.Adam([p], lr=0.1)
    set_grads([p], [np.ones(3)])
    opt.step()
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert opt.state[p]["step"] == 1 and opt.state[p]["exp_avg"].grad_fn is None
    # A parameter without a gradient is skipped and gets no state.
    q = nn.Parameter(kiln.ones(2))
    opt.add_param_group({"params": [q], "lr": 0.5})
    opt.step()
    assert q not in opt.state and q.tolist() == [1.0, 1.0]


def test_bad_state_is_refused_with_a_clear_error():
    p = nn.Parameter(kiln.ones(3, dtype=kiln.float64))
    g = kiln.ones(3, dtype=kiln.float64)
    with pytest.raises(TypeError, match="exp_avg has dtype float32, the parameter float64"):
        kiln._C._adam_step(p, g, kiln.zeros(3), kiln.zeros(3, dtype=kiln.float64), None, 1,
                           lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0,
                           decoupled=False, maximize=False)
    with pytest.raises(RuntimeError, match=r"exp_avg_sq has shape \[2\], the parameter \[3\]"):
        kiln._C._adam_step(p, g, kiln.zeros(3, dtype=kiln.float64),
                           kiln.zeros(2, dtype=kiln.float64), None, 1, lr=0.1, beta1=0.9,
                           beta2=0.99, eps=1e-8, weight_decay=0, decoupled=False,
                           maximize=False)
    with pytest.raises(TypeError, match="floating"):
        kiln._C._sgd_step(kiln.ones(2, dtype=kiln.int64), kiln.ones(2, dtype=kiln.int64), None,
                          lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                          maximize=False)


def test_half_precision_parameters_step():
    for dtype in (kiln.float16, kiln.bfloat16):
        p = nn.Parameter(kiln.full((4,), 1.0, dtype=dtype))
        opt = kiln.optim.SGD([p], lr=0.25, momentum=0.5)
        for _ in range(2):
            p._zero_grad(True)
            (p * kiln.full((4,), 2.0, dtype=dtype)).sum().backward()
            opt.step()
        # 1 - 0.25*2 = 0.5, then buf = 0.5*2 + 2 = 3: 0.5 - 0.75 = -0.25 (exact in both)
        assert p.float().tolist() == [-0.25] * 4 and p.dtype == dtype


def test_param_groups_have_their_own_options():
    a = nn.Parameter(kiln.tensor([1.0, 2.0], dtype=kiln.float64))
    b = nn.Parameter(kiln.tensor([3.0], dtype=kiln.float64))
    opt = kiln.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["momentum"] == 0.9
    set_grads([a, b], [np.array([1.0, 1.0]), np.array([2.0])])
    opt.step()
    assert a.tolist() == [0.9, 1.9] and b.tolist() == [2.0]
    c = nn.Parameter(kiln.tensor([0.0], dtype=kiln.float64))
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["momentum"] == 0.0 and opt.param_groups[2]["nesterov"] is False
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="duplicate"):
        kiln.optim.Adam([a, a])
    with pytest.raises(ValueError, match="empty parameter list"):
        kiln.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        kiln.optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        kiln.optim.Adam([a], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta"):
        kiln.optim.AdamW([a], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Nesterov"):
        kiln.optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="non-leaf"):
        kiln.optim.SGD([a * 2], lr=0.1)


def test_zero_grad_and_closure():
    p = nn.Parameter(kiln.ones(2))
    opt = kiln.optim.SGD([p], lr=0.5)
    (p * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with kiln.no_grad():  # step() evaluates the closure with grad enabled
        loss = opt.step(closure)
    assert loss.item() == 2.0 and p.tolist() == [0.0, 0.0]


def test_state_dict_has_torchs_layout():
    a, b, c = (nn.Parameter(kiln.ones(2)) for _ in range(3))
    opt = kiln.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], amsgrad=True)
    set_grads([a, c], [np.ones(2), np.ones(2)])  # b has no gradient: no state
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 2]
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]


OPTIMIZERS = [
    lambda ps: kiln.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: kiln.optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.003}], lr=0.01,
                               amsgrad=True),
    lambda ps: kiln.optim.AdamW(ps, lr=0.01),
    lambda ps: kiln.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: kiln.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_resumed_training_equals_uninterrupted_bit_for_bit(make, tmp_path):
    kiln.manual_seed(3)
    x, y = kiln.randn(32, 4), kiln.randn(32, 2)

    def model_and_opt():
        kiln.manual_seed(4)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
        return model, make(list(model.parameters()))

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()

    model, opt = model_and_opt()
    train(model, opt, 7)
    want = [p.detach().numpy().copy() for p in model.parameters()]

    model, opt = model_and_opt()
    train(model, opt, 3)
    kiln.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "ckpt")
    model, opt = model_and_opt()  # fresh: the state must all come from the file
    ckpt = kiln.load(tmp_path / "ckpt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    train(model, opt, 4)
    for p, w in zip(model.parameters(), want):
        np.testing.assert_array_equal(p.detach().numpy(), w)
    # The loaded state is a copy: stepping does not write into the loaded dict.
    first = next(iter(ckpt["optim"]["state"].values()))
    t = next(v for v in first.values() if isinstance(v, kiln.Tensor))
    assert not any(t is v for s in opt.state.values() for v in s.values())


def test_load_state_dict_checks_and_casts():
    a = nn.Parameter(kiln.ones(2, dtype=kiln.float64))
    opt = kiln.optim.Adam([a])
    set_grads([a], [np.ones(2)])
    opt.step()
    sd = opt.state_dict()
    b = nn.Parameter(kiln.ones(2))  # float32: the state is cast to it
    other = kiln.optim.Adam([b])
    other.load_state_dict(sd)
    assert other.state[b]["exp_avg"].dtype == kiln.float32 and other.state[b]["step"] == 1
    with pytest.raises(ValueError, match="different number of parameter groups"):
        kiln.optim.Adam([{"params": [b]}, {"params": [a]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        kiln.optim.Adam([a, b]).load_state_dict(sd)
    with pytest.raises(ValueError, match="has shape"):
        kiln.optim.Adam([nn.Parameter(kiln.ones(3))]).load_state_dict(sd)


@needs_torch
def test_clip_grad_matches_torch():
    rng = np.random.default_rng(5)
    values = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    for norm_type, max_norm in [(2.0, 1.0), (1.0, 0.5), (float("inf"), 0.3), (3.0, 100.0),
                                ("inf", 0.1)]:
        ps = [nn.Parameter(kiln.tensor(v)) for v in values] + [nn.Parameter(kiln.ones(2))]
        ts = [torch.tensor(v, requires_grad=True) for v in values]
        set_grads(ps[:2], values)
        for t, v in zip(ts, values):
            t.grad = torch.tensor(v)
        total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        want = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
        assert total.dtype == kiln.float64 and total.shape == ()
        assert abs(total.item() - want.item()) < 1e-12 * want.item()
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
        assert ps[2].grad is None
    ps = [nn.Parameter(kiln.tensor(v)) for v in values]
    set_grads(ps, values)
    ts = [torch.tensor(v, requires_grad=True) for v in values]
    for t, v in zip(ts, values):
        t.grad = torch.tensor(v)
    nn.utils.clip_grad_value_(ps, 0.5)
    torch.nn.utils.clip_grad_value_(ts, 0.5)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_grad_by_hand():
    p = nn.Parameter(kiln.zeros(2, dtype=kiln.float64))
    set_grads([p], [np.array([3.0, 4.0])])
    total = nn.utils.clip_grad_norm_(p, 1.0)
    assert total.item() == 5.0
    np.testing.assert_allclose(p.grad.numpy(), [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-15)
    assert nn.utils.clip_grad_norm_(p, 10.0).item() == pytest.approx(1.0, rel=1e-6)
    assert nn.utils.clip_grad_norm_([nn.Parameter(kiln.ones(1))], 1.0).item() == 0.0
    set_grads([p], [np.array([np.nan, 1.0])])
    with pytest.raises(ValueError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    set_grads([p], [np.array([-3.0, 0.25])])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.25]
    with pytest.raises(TypeError, match="share one dtype, got float64 and float32"):
        q = nn.Parameter(kiln.ones(1))
        set_grads([q], [np.ones(1)])
        nn.utils.clip_grad_norm_([p, q], 1.0)


# ---- schedulers -------------------------------------------------------------------------


def lr_sequence(opt, sched, steps, metrics=None):
    out = [[g["lr"] for g in opt.param_groups]]
    for k in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        out.append([g["lr"] for g in opt.param_groups])
    return out


def two_group_opt(lib, momentum=0.9):
    if lib == "kiln":
        a, b = nn.Parameter(kiln.ones(1)), nn.Parameter(kiln.ones(1))
        return kiln.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1,
                              momentum=momentum)
    a, b = torch.ones(1, requires_grad=True), torch.ones(1, requires_grad=True)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1,
                           momentum=momentum)


class Halve:
    """A callable object: its attributes travel in LambdaLR's state_dict."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, epoch):
        return self.base ** (epoch // 3)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=7, power=2.0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), Halve()]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=16),
    "OneCycleLR-3": lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=8,
                                              pct_start=0.25, anneal_strategy="linear",
                                              three_phase=True),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                        mode="triangular2"),
    "CyclicLR-exp": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                            step_size_down=4, mode="exp_range", gamma=0.9),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3,
                                                                             T_mult=2),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=3), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=2)], milestones=[3, 8]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_sequence_matches_torch(name):
    opt, topt = two_group_opt("kiln"), two_group_opt("torch")
    make = SCHEDULERS[name]
    got = lr_sequence(opt, make(ls, opt), 15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own deprecation warnings (SequentialLR)
        want = lr_sequence(topt, make(torch.optim.lr_scheduler, topt), 15)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-17)
    for key in ("momentum",):
        assert [g[key] for g in opt.param_groups] == pytest.approx(
            [g[key] for g in topt.param_groups], rel=1e-14)


@needs_torch
def test_reduce_on_plateau_matches_torch():
    metrics = [5, 4, 4, 4, 4, 3.99999, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    for kw in [dict(patience=2), dict(mode="max", patience=1, cooldown=2, factor=0.5,
                                      threshold_mode="abs", min_lr=[0.02, 0.3])]:
        opt, topt = two_group_opt("kiln"), two_group_opt("torch")
        got = lr_sequence(opt, ls.ReduceLROnPlateau(opt, **kw), len(metrics), metrics)
        want = lr_sequence(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw),
                           len(metrics), metrics)
        assert got == want


def test_schedulers_by_hand():
    opt = two_group_opt("kiln")
    s = ls.StepLR(opt, step_size=2, gamma=0.1)
    assert s.get_last_lr() == [0.1, 0.5] and opt.param_groups[0]["initial_lr"] == 0.1
    seq = lr_sequence(opt, s, 5)
    np.testing.assert_allclose([r[0] for r in seq], [0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
                               rtol=1e-15)
    opt = two_group_opt("kiln")
    seq = lr_sequence(opt, ls.CosineAnnealingLR(opt, T_max=4), 4)
    np.testing.assert_allclose([r[1] for r in seq],
                               [0.5 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)],
                               rtol=1e-14, atol=1e-17)
    opt = two_group_opt("kiln")
    seq = lr_sequence(opt, ls.LinearLR(opt, start_factor=0.5, total_iters=4), 5)
    np.testing.assert_allclose([r[0] for r in seq], [0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1],
                               rtol=1e-14)
    opt = two_group_opt("kiln")
    seq = lr_sequence(opt, ls.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5,
                                         anneal_strategy="linear"), 9)
    # up from 1/25 to 1 over steps 0..4, then down to 1/25/1e4 at step 9.
    np.testing.assert_allclose([r[0] for r in seq[:5]], np.linspace(0.04, 1.0, 5), rtol=1e-14)
    assert seq[9][0] == pytest.approx(0.04 / 1e4, rel=1e-12)
    opt = two_group_opt("kiln")
    sched = ls.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    seq = lr_sequence(opt, sched, 5, [1.0, 1.0, 1.0, 0.5, 0.5])
    assert [r[0] for r in seq] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05]
    with pytest.raises(KeyError, match="initial_lr"):
        ls.StepLR(two_group_opt("kiln"), 2, last_epoch=3)
    with pytest.raises(TypeError, match="not an Optimizer"):
        ls.StepLR(object(), 2)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_dict_resumes(name, tmp_path):
    make = SCHEDULERS[name]
    opt = two_group_opt("kiln")
    want = lr_sequence(opt, make(ls, opt), 12)
    opt = two_group_opt("kiln")
    sched = make(ls, opt)
    lr_sequence(opt, sched, 5)
    kiln.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s")
    ckpt = kiln.load(tmp_path / "s")
    opt = two_group_opt("kiln")
    sched = make(ls, opt)
    opt.load_state_dict(ckpt["opt"])
    sched.load_state_dict(ckpt["sched"])
    got = lr_sequence(opt, sched, 7)
    assert got == want[5:]


def test_epoch_argument_uses_the_closed_form():
    opt = two_group_opt("kiln")
    s = ls.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(3)
    assert s.get_last_lr() == [0.1 * 0.125, 0.5 * 0.125] and s.last_epoch == 3
