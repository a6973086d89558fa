# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn.utils: gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_),
kiln's C++ clip functions (include/kiln/nn/clip_grad.hpp) on the parameters' gradients."""
import kiln as _kiln

_C = _kiln._C


def _params(parameters):
    if isinstance(parameters, _C.Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scales the gradients in place so that their total norm (the norm of all of them
    concatenated; norm_type may be inf or "inf") is at most max_norm: each is multiplied by
    min(1, max_norm / (total + 1e-6)). Returns the total norm before clipping, a 0-d
    tensor of the gradients' dtype (0. without gradients), as torch. All parameters must
    with a gradient must share one floating dtype. `foreach` is accepted for torch's signature."""
    params = [p for p in _params(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not params:
        return _kiln.tensor(0.0)
    total = _C._clip_grad_norm_(params, float(max_norm), norm_type, error_if_nonfinite)
    return _kiln.tensor(total, dtype=params[0].dtype)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient to [-clip_value, clip_value] in place."""
    params = [p for p in _params(parameters) if p.grad is not None]
    _C._clip_grad_value_(params, float(clip_value))
