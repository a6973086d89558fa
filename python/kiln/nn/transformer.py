# SPDX-License-Identifier: BSD-3-Clause
"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder with torch.nn's
signatures, parameters (state_dict keys and order), children and initialisation. A
forward is one call of kiln's C++ layer: the projections, masks, softmax, feed-forward
block and norms of one layer run there."""
import copy
import numbers

from .. import _C
from . import functional as F
from . import init
from .modules import Dropout, Linear, Module, ModuleList, Parameter
from .normalization import LayerNorm
from .rnn import _check_device


class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention's out_proj: a Linear that only prints another name, as torch's."""


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention. Parameters: in_proj_weight [3E, E] when kdim == vdim ==
    embed_dim, else q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim];
    in_proj_bias [3E]; out_proj, a Linear(E, E). xavier_uniform_ projection weights and
    zero biases, as torch's _reset_parameters."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        _check_device(device)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise ValueError("kiln's MultiheadAttention does not support add_bias_kv or "
                             "add_zero_attn")
        dtype = dtype or _C.float32
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, float(dropout), batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_C.empty(3 * embed_dim, embed_dim, dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(_C.empty(embed_dim, embed_dim, dtype=dtype))
            self.k_proj_weight = Parameter(_C.empty(embed_dim, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(_C.empty(embed_dim, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_C.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Batched inputs [L, N, E], [S, N, kdim], [S, N, vdim] ([N, L, E]... with
        batch_first) or unbatched [L, E]...; masks bool (True = masked out) or float
        (added): key_padding_mask [N, S], attn_mask [L, S] or [N * num_heads, L, S].
        Returns (attn_output, attn_weights or None); the weights are averaged over heads
        [N, L, S] unless average_attn_weights=False ([N, num_heads, L, S])."""
        return _C._multi_head_attention_forward(
            query, key, value, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight, self.out_proj.weight,
            self.out_proj.bias, key_padding_mask, need_weights, attn_mask, average_attn_weights,
            is_causal, self.dropout if self.training else 0.0, self.batch_first)


def _activation_name(activation):
    # The layer runs in one C++ call, which fuses relu or gelu (exact erf form) into the
    # feed-forward block; other callables have no C++ counterpart there.
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise RuntimeError(f"activation should be relu/gelu, not {activation}")
        return activation
    if activation is F.relu or activation is _C.relu:
        return "relu"
    if activation is F.gelu or activation is _C.gelu:
        return "gelu"
    raise ValueError("kiln's TransformerEncoderLayer supports the activations 'relu' and 'gelu' "
                     f"(or F.relu, F.gelu), got {activation!r}")


class TransformerEncoderLayer(Module):
    """torch.nn.TransformerEncoderLayer: self-attention then linear2(dropout(activation(
    linear1(x)))), each with dropout and a residual connection, normalised after (default)
    or before (norm_first) each block. Children in torch's order: self_attn, linear1,
    dropout, linear2, norm1, norm2, dropout1, dropout2."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _check_device(device)
        _activation_name(activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src [S, N, E] ([N, S, E] with batch_first, [S, E] unbatched); src_mask and
        src_key_padding_mask are the self-attention's attn_mask and key_padding_mask."""
        sa, l1, l2, n1, n2 = self.self_attn, self.linear1, self.linear2, self.norm1, self.norm2
        self._check_children()
        params = [sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias,
                  l1.weight, l1.bias, l2.weight, l2.bias, n1.weight, n1.bias, n2.weight, n2.bias]
        # Each dropout site follows its own child's p and mode, as torch's.
        dropouts = [sa.dropout if sa.training else 0.0]
        dropouts += [d.p if d.training else 0.0 for d in (self.dropout, self.dropout1,
                                                          self.dropout2)]
        return _C._transformer_encoder_layer(
            src, params, sa.num_heads, _activation_name(self.activation), n1.eps,
            sa.batch_first, self.norm_first, dropouts, src_mask, src_key_padding_mask,
            bool(is_causal))

    def _check_children(self):
        # The C++ call computes what torch's children compute from their parameters, so a
        # child replaced by another kind of module could not be honoured.
        for name, kind in (("self_attn", MultiheadAttention), ("linear1", Linear),
                           ("linear2", Linear), ("norm1", LayerNorm), ("norm2", LayerNorm),
                           ("dropout", Dropout), ("dropout1", Dropout), ("dropout2", Dropout)):
            child = getattr(self, name)
            if not isinstance(child, kind):
                raise TypeError(f"TransformerEncoderLayer: {name} must be a {kind.__name__}, "
                                f"got {type(child).__name__}")
        if self.norm1.eps != self.norm2.eps:
            raise ValueError(f"TransformerEncoderLayer: norm1.eps ({self.norm1.eps}) and "
                             f"norm2.eps ({self.norm2.eps}) must be equal")


def _clone_module(module):
    """copy.deepcopy of a module: every parameter and buffer copied once (shared ones stay
    shared within the copy), everything else deep-copied as torch's deepcopy does."""
    memo = {}
    for m in module.modules():
        for tensors in (m._parameters, m._buffers):
            for t in tensors.values():
                if t is not None and id(t) not in memo:
                    c = t.detach().clone()
                    memo[id(t)] = Parameter(c, t.requires_grad) if isinstance(t, Parameter) else c
    return copy.deepcopy(module, memo)


class TransformerEncoder(Module):
    """torch.nn.TransformerEncoder: num_layers independent copies of encoder_layer (as
    torch's deepcopy) in the ModuleList `layers`, then the optional final `norm`. kiln has
    no nested tensors: enable_nested_tensor is kept for the signature and padded positions
    are computed like the others (torch's eval fast path zeroes them)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        if not isinstance(num_layers, numbers.Integral) or num_layers < 0:
            raise ValueError(f"num_layers must be a non-negative int, got {num_layers}")
        self.layers = ModuleList([_clone_module(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Every layer with the same masks, then norm."""
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        if self.norm is not None:
            output = self.norm(output)
        return output
