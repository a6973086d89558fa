# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn.functional: torch.nn.functional's names over kiln's C++ ops (each call below is
one or a few fused C++ passes, never a Python loop over elements)."""
from .. import _C

relu = _C.relu
sigmoid = _C.sigmoid
tanh = _C.tanh
silu = _C.silu
softmax = _C.softmax
log_softmax = _C.log_softmax


def gelu(input, approximate="none"):
    """The exact (erf) form, or the tanh approximation with approximate="tanh"."""
    return _C._gelu(input, approximate)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _C._leaky_relu(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return _C._elu(input, alpha)


def softplus(input, beta=1, threshold=20):
    return _C._softplus(input, beta, threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _C.clamp(input, min_val, max_val)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def linear(input, weight, bias=None):
    """x W^T + b, the bias fused into the GEMM."""
    return _C._linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k: one GEMM and one fused reduction."""
    return _C._bilinear(input1, input2, weight, bias)


def _conv_padding(input, weight, stride, padding, dilation, op):
    """torch's padding="valid" / "same" as an int padding (and, where "same" needs one
    more element on the right than on the left, the input padded first)."""
    if not isinstance(padding, str):
        return input, padding
    if padding == "valid":
        return input, 0
    if padding != "same":
        raise ValueError(f"Invalid padding string '{padding}', should be one of "
                         "{'valid', 'same'}")
    n = weight.ndim - 2
    strides = stride if isinstance(stride, (tuple, list)) else (stride,) * n
    if any(s != 1 for s in strides):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
    dilations = dilation if isinstance(dilation, (tuple, list)) else (dilation,) * n
    totals = [d * (k - 1) for d, k in zip(dilations, weight.shape[2:])]
    if all(t % 2 == 0 for t in totals):
        return input, tuple(t // 2 for t in totals)
    extra = []
    for t in reversed(totals):
        extra += [0, t % 2]
    return pad(input, extra), tuple(t // 2 for t in totals)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    input, padding = _conv_padding(input, weight, stride, padding, dilation, "conv1d")
    return _C._conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    input, padding = _conv_padding(input, weight, stride, padding, dilation, "conv2d")
    return _C._conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """weight [in, out / groups, kH, kW]; torch's argument order (groups before
    dilation)."""
    return _C._conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                                dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return _C._max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _C._avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def adaptive_avg_pool2d(input, output_size):
    """output_size: an int, a pair, or a pair with None keeping the input's size."""
    if isinstance(output_size, (tuple, list)):
        output_size = tuple(input.shape[i - 2] if s is None else s
                            for i, s in enumerate(output_size))
    return _C._adaptive_avg_pool2d(input, output_size)


def pad(input, pad, mode="constant", value=None):
    """pad lists (before, after) pairs from the last dim backwards; modes "constant",
    "reflect", "replicate", "circular"."""
    if len(pad) % 2:
        raise ValueError(f"Padding length must be divisible by 2, got {len(pad)}")
    if value is not None and mode != "constant":
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    return _C._pad(input, list(pad), mode, 0.0 if value is None else value)


def dropout(input, p=0.5, training=True):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return _C._dropout(input, p, training)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Per-channel normalisation of [N, C, ...]: by the batch's statistics in training
    (and the running ones, when given, updated in place with the unbiased variance), by
    running_mean / running_var otherwise."""
    return _C._batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                          eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    return _C._layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim >= 2 and num_groups > 0:
        # torch's check, which counts the values of one group across the batch.
        count = input.shape[0] * input.shape[1] // num_groups
        for s in input.shape[2:]:
            count *= s
        if count == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {list(input.shape)}")
    return _C._group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x²) + eps) over the trailing dims; eps None is the dtype's machine
    epsilon."""
    return _C._rms_norm(input, normalized_shape, weight, eps)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of weight at the integer ids of `input`; the padding_idx row gets no
    gradient."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported by kiln")
    return _C._embedding(input, weight, padding_idx)


def one_hot(tensor, num_classes=-1):
    return _C._one_hot(tensor, num_classes)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _C._cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of x1 - x2 + eps over the last dim."""
    return _C._pairwise_distance(x1, x2, p, eps, keepdim)


def _reduction(size_average, reduce, reduction):
    """torch's deprecated size_average / reduce arguments as a reduction, when given."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_same_shape(input, target, op):
    # torch broadcasts with a warning here; kiln asks for equal shapes.
    if input.shape != target.shape:
        raise ValueError(f"{op}: input {input.shape} and target {target.shape} differ")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or sum, or none) of the squared differences: kiln's C++ loss."""
    _check_same_shape(input, target, "mse_loss")
    return _C._mse_loss(input, target, _reduction(size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _check_same_shape(input, target, "l1_loss")
    return _C._l1_loss(input, target, _reduction(size_average, reduce, reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d² / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target)."""
    _check_same_shape(input, target, "smooth_l1_loss")
    return _C._smooth_l1_loss(input, target, _reduction(size_average, reduce, reduction), beta)


def huber_loss(input, target, reduction="mean", delta=1.0):
    _check_same_shape(input, target, "huber_loss")
    return _C._huber_loss(input, target, reduction, delta)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """On probabilities; each log is clamped at -100 as torch's. weight broadcasts."""
    if input.shape != target.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have "
                         "the same size.")
    return _C._binary_cross_entropy(input, target, weight,
                                    _reduction(size_average, reduce, reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits;
    pos_weight weighs the positive term (broadcast over the last dim: one per class)."""
    if input.shape != target.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    return _C._binary_cross_entropy_with_logits(
        input, target, weight, _reduction(size_average, reduce, reduction), pos_weight)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """input holds log-probabilities; reduction "batchmean" divides the sum by the batch
    size (torch's recommended reduction, as "mean" averages over every element)."""
    _check_same_shape(input, target, "kl_div")
    return _C._kl_div(input, target, _reduction(size_average, reduce, reduction), log_target)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with d = pairwise_distance; with swap, d(a, n)
    becomes min(d(a, n), d(p, n))."""
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {anchor.ndim}D, "
                           f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")
    return _C._triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                   _reduction(size_average, reduce, reduction))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """input [N, C] (or [C], [N, C, d...]) log-probabilities, target class indices; one
    fused C++ pass forward and backward."""
    return _C._nll_loss(input, target, weight, ignore_index,
                        _reduction(size_average, reduce, reduction), 0.0)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """With class indices, kiln's fused kernel (log_softmax is never formed); with class
    probabilities (a target of the input's shape, as torch decides), log_softmax and one
    fused weighted sum. ignore_index applies to class indices only, as in torch."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape == input.shape:
        return _C._cross_entropy_probs(input, target, weight, reduction, label_smoothing)
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
