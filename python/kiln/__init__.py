# SPDX-License-Identifier: BSD-3-Clause
"""kiln: PyTorch's tensor API on kiln's C++ tensors, ops and autograd.

The math runs in C++ (kiln._C); this package only arranges names as torch does.
"""
import builtins
import contextlib

from . import _C, autograd  # noqa: F401
from ._C import (  # noqa: F401  (re-exported)
    Tensor,
    abs,
    amax,
    amin,
    arange,
    bfloat16,
    bool,
    ceil,
    cos,
    div,
    dtype,
    empty,
    eq,
    erf,
    exp,
    expm1,
    eye,
    float16,
    float32,
    float64,
    floor,
    floor_divide,
    from_dlpack,
    from_numpy,
    full,
    ge,
    gelu,
    gt,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    le,
    linspace,
    log,
    log1p,
    log2,
    lt,
    manual_seed,
    matmul,
    mean,
    mul,
    ne,
    ones,
    pow,
    rand,
    randint,
    randn,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    silu,
    sin,
    sqrt,
    square,
    sub,
    sum,
    tan,
    tanh,
    tensor,
    uint8,
    zeros,
)
from ._C import add  # noqa: F401
from ._C import (  # noqa: F401
    all,
    any,
    argmax,
    argmin,
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    cat,
    clamp,
    concat,
    fmod,
    index_put,
    log_softmax,
    maximum,
    minimum,
    prod,
    softmax,
    stack,
    std,
    var,
    where,
)

from ._C import (  # noqa: F401  (elementwise functions)
    acos,
    arccos,
    arcsin,
    arctan,
    arctan2,
    asin,
    atan,
    atan2,
    cosh,
    exp2,
    fix,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    neg,
    negative,
    reciprocal,
    sign,
    sinh,
    trunc,
)
from ._C import (  # noqa: F401  (op library)
    addmm,
    allclose,
    argsort,
    argwhere,
    baddbmm,
    bmm,
    broadcast_to,
    chunk,
    cumprod,
    cumsum,
    diag,
    diagonal,
    dot,
    equal,
    flip,
    gather,
    ger,
    index_add,
    index_select,
    logsumexp,
    masked_fill,
    masked_scatter,
    masked_select,
    max,
    min,
    mm,
    msort,
    mv,
    narrow,
    nonzero,
    outer,
    roll,
    scatter,
    scatter_add,
    select,
    sort,
    split,
    split_with_sizes,
    take_along_dim,
    tile,
    topk,
    tril,
    triu,
    unbind,
    unique,
)
from ._C import return_types  # noqa: F401

# torch's aliases.
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"


def zeros_like(input, *, dtype=None, requires_grad=False):
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, requires_grad=False):
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, requires_grad=False):
    return empty(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def rand_like(input, *, dtype=None, requires_grad=False):
    return rand(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, requires_grad=False):
    return randn(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode inside a `with` block or a function decorated with an instance
    (`@kiln.no_grad()`), then restores it."""

    def __init__(self, enabled):
        self._enabled = enabled

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._enabled)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


class no_grad(_GradMode):  # noqa: N801  (torch's name)
    """torch.no_grad: operations inside record no autograd history."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):  # noqa: N801
    """torch.enable_grad: turns recording back on inside a no_grad region."""

    def __init__(self):
        super().__init__(True)


def set_grad_enabled(mode):
    """torch.set_grad_enabled, as a function (a context manager form comes later)."""
    _C._set_grad_enabled(mode)

from . import linalg  # noqa: E402


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: a vector p-norm over `dim` (all dims when None); "fro" is the 2-norm,
    "nuc" the nuclear norm of the matrices over two dims."""
    if dtype is not None:
        input = input.to(dtype)
    if isinstance(p, str):
        if p == "nuc":
            return linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)
        if p != "fro":
            raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        p = 2.0
    return _C._vector_norm_p(input, builtins.float(p), dim, keepdim)


def det(input):
    return linalg.det(input)


def inverse(input):
    return linalg.inv(input)


def matrix_power(input, n):
    return linalg.matrix_power(input, n)


Tensor.norm = norm
Tensor.det = det
Tensor.inverse = inverse
Tensor.matrix_power = matrix_power

from . import datasets, nn, optim, utils  # noqa: E402,F401  (after the names they use)
from .serialization import load, save  # noqa: E402,F401
