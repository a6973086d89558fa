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


# ---- attention -----------------------------------------------------------------------

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) v for q [..., L, E], k [..., S, E], v [..., S, Ev]
    (batch dims broadcast). A bool attn_mask's True = may attend (torch's SDPA
    convention); a float one is added. scale defaults to 1 / sqrt(E)."""
    return _C._scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal,
                                            scale)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch's functional MultiheadAttention: inputs [L, N, E], [S, N, kdim], [S, N, vdim]
    (or unbatched [L, E]...); returns (attn_output, attn_weights or None)."""
    if bias_k is not None or bias_v is not None or add_zero_attn:
        raise ValueError("kiln's multi_head_attention_forward does not support bias_k, bias_v "
                         "or add_zero_attn")
    if static_k is not None or static_v is not None:
        raise ValueError("kiln's multi_head_attention_forward does not support static_k or "
                         "static_v")
    if query.shape[-1] != embed_dim_to_check:
        raise ValueError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                         f"{query.shape[-1]}")
    if use_separate_proj_weight:
        in_proj_weight = None
    else:
        q_proj_weight = k_proj_weight = v_proj_weight = None
    return _C._multi_head_attention_forward(
        query, key, value, num_heads, in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight,
        v_proj_weight, out_proj_weight, out_proj_bias, key_padding_mask, need_weights, attn_mask,
        average_attn_weights, is_causal, dropout_p if training else 0.0, False)
