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
    """x W^T + b, the bias fused into the GEMM."""
    return _C._linear(input, weight, bias)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _C._conv2d(input, weight, bias, stride, padding, dilation, groups)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return _C._max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _C._avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def dropout(input, p=0.5, training=True):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return _C._dropout(input, p, training)


def _check_same_shape(input, target, op):
    # torch broadcasts with a warning here; kiln asks for equal shapes.
    if input.shape != target.shape:
        raise ValueError(f"{op}: input {input.shape} and target {target.shape} differ")


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or none) of the squared differences: kiln's C++ loss."""
    _check_same_shape(input, target, "mse_loss")
    return _C._mse_loss(input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    _check_same_shape(input, target, "l1_loss")
    return _C._l1_loss(input, target, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """input [N, C] (or [C], [N, C, d...]) log-probabilities, target class indices; one
    fused C++ pass forward and backward."""
    return _C._nll_loss(input, target, weight, ignore_index, reduction, 0.0)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Class-index cross entropy: kiln's fused kernel (log_softmax is never formed)."""
    return _C._cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
