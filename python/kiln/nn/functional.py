# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn.functional: torch.nn.functional's names over kiln's C++ ops (each call below is
one or a few fused C++ passes, never a Python loop over elements)."""
from .. import _C

relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
silu = _C.silu
gelu = _C.gelu
softmax = _C.softmax
log_softmax = _C.log_softmax


def linear(input, weight, bias=None):
    """x W^T + b."""
    y = input @ weight.t()
    return y if bias is None else y + bias


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mse_loss(input, target, reduction="mean"):
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} differ")
    return _reduce((input - target).square(), reduction)


def l1_loss(input, target, reduction="mean"):
    if input.shape != target.shape:
        raise ValueError(f"l1_loss: input {input.shape} and target {target.shape} differ")
    return _reduce(abs(input - target), reduction)


def nll_loss(input, target, reduction="mean"):
    """input [N, C] log-probabilities, target [N] class indices."""
    if input.ndim != 2 or target.ndim != 1 or target.shape[0] != input.shape[0]:
        raise ValueError(f"nll_loss: expected input [N, C] and target [N], got {input.shape} "
                         f"and {target.shape}")
    if target.is_floating_point():
        raise TypeError("nll_loss: target must hold class indices (an integer tensor)")
    classes = _C.arange(input.shape[1])
    picked = _C.where(target.unsqueeze(1) == classes.unsqueeze(0), input, 0.0)
    return _reduce(-picked.sum(1), reduction)


def cross_entropy(input, target, reduction="mean"):
    """log_softmax over dim 1, then nll_loss (class indices)."""
    return nll_loss(log_softmax(input, 1), target, reduction)
