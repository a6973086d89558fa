# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn from Python: modules found from attributes as in torch, state dicts, repr,
losses against numpy, and a small training loop that learns (kiln.optim's rules are
tested in test_optim.py)."""
import math

import numpy as np
import pytest

import kiln
import kiln.nn as nn
import kiln.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        self.scale = nn.Parameter(kiln.ones(2))
        self.register_buffer("count", kiln.zeros(1))
        self.note = "plain attribute"

    def forward(self, x):
        return self.features(x) * self.scale


def test_parameters_are_found_from_attributes():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.2.weight",
                     "features.2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["count"]
    assert list(net.state_dict()) == ["scale", "count", "features.0.weight", "features.0.bias",
                                      "features.2.weight", "features.2.bias"]
    assert all(p.requires_grad for p in net.parameters())
    assert isinstance(net.features[0].weight, nn.Parameter)
    assert net.note == "plain attribute"
    # A shared parameter is listed once.
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1",
                                                   "features.2"]


def test_linear_matches_numpy_and_torch_init():
    kiln.manual_seed(0)
    fc = nn.Linear(50, 7)
    bound = 1 / math.sqrt(50)
    w = fc.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    x = kiln.randn(3, 50)
    np.testing.assert_allclose(fc(x).detach().numpy(),
                               x.numpy() @ w.T + fc.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert nn.Linear(2, 2, bias=False).bias is None
    assert len(list(nn.Linear(2, 2, bias=False).parameters())) == 1


def test_repr_like_torch():
    assert repr(nn.Sequential(nn.Linear(4, 3), nn.ReLU())) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        ")")


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    x = kiln.randn(5, 4)
    assert (a(x) - b(x)).abs().amax().item() > 0
    b.load_state_dict(a.state_dict())
    assert (a(x) - b(x)).abs().amax().item() == 0
    sd = a.state_dict()
    del sd["scale"]
    sd["extra"] = kiln.zeros(1)
    sd["features.0.weight"] = kiln.zeros(9, 9)
    before = b(x).detach().numpy()
    with pytest.raises(RuntimeError, match="size mismatch for features.0.weight") as e:
        b.load_state_dict(sd)
    assert "Missing key(s) in state_dict: scale" in str(e.value)
    assert "Unexpected key(s) in state_dict: extra" in str(e.value)
    np.testing.assert_array_equal(b(x).detach().numpy(), before)  # nothing loaded


def test_train_eval_zero_grad_and_to():
    net = Net()
    net.eval()
    assert not net.training and not net.features[1].training
    net.train()
    net(kiln.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.double()
    assert all(p.dtype == kiln.float64 for p in net.parameters())
    assert net(kiln.randn(2, 4, dtype=kiln.float64)).dtype == kiln.float64


def test_losses_match_numpy():
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = np.array([2, 0, 1, 1])
    lsm = x - np.log(np.exp(x).sum(1, keepdims=True))
    want = -lsm[np.arange(4), y].mean()
    got = F.cross_entropy(kiln.tensor(x), kiln.tensor(y))
    assert abs(got.item() - want) < 1e-12
    assert abs(nn.CrossEntropyLoss(reduction="sum")(kiln.tensor(x), kiln.tensor(y)).item()
               - 4 * want) < 1e-12
    t = np.zeros((4, 3))
    assert abs(F.mse_loss(kiln.tensor(x), kiln.tensor(t)).item() - (x**2).mean()) < 1e-12
    with pytest.raises(ValueError):
        F.mse_loss(kiln.tensor(x), kiln.zeros(3))
    d = x - 1.0
    assert abs(F.l1_loss(kiln.tensor(x), kiln.tensor(np.ones((4, 3))), reduction="sum").item()
               - np.abs(d).sum()) < 1e-12
    np.testing.assert_allclose(
        F.mse_loss(kiln.tensor(x), kiln.tensor(np.ones((4, 3))), reduction="none").numpy(), d * d)


def test_a_small_classifier_learns():
    kiln.manual_seed(0)
    x = kiln.randn(256, 2)
    y = (x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = kiln.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with kiln.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.95, acc


def test_cnn_layers_match_numpy_loops():
    kiln.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    assert conv.weight.shape == (3, 2, 3, 3)
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / math.sqrt(18)
    x = kiln.randn(1, 2, 5, 5, dtype=kiln.float32)
    y = conv(x).detach().numpy()
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    want = np.zeros((1, 3, 5, 5), np.float32)
    for o in range(3):
        for i in range(5):
            for j in range(5):
                want[0, o, i, j] = (xp[0, :, i:i + 3, j:j + 3] * w[o]).sum() + b[o]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    p = nn.MaxPool2d(2)(kiln.tensor(np.arange(16.0).reshape(1, 1, 4, 4)))
    assert p.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    a = nn.AvgPool2d(2)(kiln.tensor(np.arange(16.0).reshape(1, 1, 4, 4)))
    assert a.tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert repr(conv) == "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_dropout_modes_and_fused_cross_entropy_options():
    kiln.manual_seed(2)
    d = nn.Dropout(0.5)
    x = kiln.ones(10000)
    kept = (d(x) != 0).float().mean().item()
    assert 0.45 < kept < 0.55
    d.eval()
    assert (d(x) == x).all().item()
    logits = kiln.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], dtype=kiln.float64)
    target = kiln.tensor([0, -100])
    # ignore_index drops the second row; label smoothing mixes in the uniform target.
    lsm = logits.log_softmax(1).tolist()[0]
    assert abs(F.cross_entropy(logits, target).item() + lsm[0]) < 1e-12
    eps = 0.1
    want = -((1 - eps) * lsm[0] + eps / 3 * sum(lsm))
    assert abs(F.cross_entropy(logits, target, label_smoothing=eps).item() - want) < 1e-12
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(logits, kiln.tensor([0.0, 1.0]))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 3, 2, 2), (1, 7)])
def test_orthogonal_init_gives_orthonormal_rows_or_columns(shape):
    kiln.manual_seed(3)
    w = kiln.empty(*shape, dtype=kiln.float64)
    assert nn.init.orthogonal_(w, gain=2.0) is w
    m = w.numpy().reshape(shape[0], -1) / 2.0
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    kiln.manual_seed(3)
    again = nn.init.orthogonal_(kiln.empty(*shape, dtype=kiln.float64), gain=2.0)
    np.testing.assert_array_equal(again.numpy(), w.numpy())  # seeded
    with pytest.raises(ValueError):
        nn.init.orthogonal_(kiln.empty(5))


def test_eye_init_and_float32_orthogonal():
    w = nn.init.eye_(kiln.empty(3, 5))
    np.testing.assert_array_equal(w.numpy(), np.eye(3, 5, dtype=np.float32))
    with pytest.raises(ValueError):
        nn.init.eye_(kiln.empty(2, 2, 2))
    q = nn.init.orthogonal_(kiln.empty(16, 8)).numpy()
    assert q.dtype == np.float32
    np.testing.assert_allclose(q.T @ q, np.eye(8), atol=1e-5)
