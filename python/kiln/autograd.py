# SPDX-License-Identifier: BSD-3-Clause
"""kiln.autograd: torch.autograd's functional entry points and custom Functions over
kiln's C++ engine."""
from . import _C


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, _C.Tensor):
        return (x,)
    return tuple(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """torch.autograd.grad: the gradients of `outputs` with respect to `inputs`, as a
    tuple, without touching any `.grad`. Unused inputs give None with allow_unused."""
    return tuple(_C._autograd_grad(list(_as_tuple(outputs)), list(_as_tuple(inputs)),
                                   list(_as_tuple(grad_outputs)), retain_graph, create_graph,
                                   allow_unused))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """torch.autograd.backward for one or more tensors (each accumulates into the leaves'
    .grad)."""
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors) or (None,) * len(tensors)
    for i, (t, g) in enumerate(zip(tensors, grads)):
        keep = True if i + 1 < len(tensors) else retain_graph
        t.backward(g, retain_graph=keep, create_graph=create_graph)


class FunctionCtx:
    """The `ctx` of a custom Function: what forward leaves for backward.

    Tensors go through save_for_backward (kept by the graph node, version-checked and
    read back as ctx.saved_tensors); anything else can be stored as an attribute."""

    def __init__(self):
        self._to_save = ()
        self._non_differentiable = ()
        self._materialize_grads = True
        self._node = None
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        """Keeps tensors (or None) for backward; they may be inputs or outputs of forward."""
        self._to_save = tensors

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward, as a tuple. Raises if one of them was
        modified in place since, or after a backward without retain_graph freed them."""
        if self._node is None:
            return tuple(self._to_save)
        return self._node.saved_tensors()

    def mark_non_differentiable(self, *tensors):
        """Marks outputs of forward that have no gradient: they do not require grad, and
        backward receives zeros for them (None with set_materialize_grads(False))."""
        self._non_differentiable = self._non_differentiable + tensors

    def set_materialize_grads(self, value):
        """With False, backward gets None instead of zeros for the gradient of a
        non-differentiable output (the gradients of differentiable outputs are always
        tensors in kiln)."""
        self._materialize_grads = bool(value)


class Function:
    """torch.autograd.Function: a differentiable op with its own forward and backward.

        class Cube(kiln.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * grad

        y = Cube.apply(x)

    forward runs under no_grad and returns a tensor or a tuple (non-tensor outputs are
    allowed); backward gets one gradient per output and returns one per positional
    argument of forward (None for arguments without one). A backward written with kiln
    ops is itself differentiable (create_graph=True). Keyword arguments are passed to
    forward but get no gradient."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        enabled = _C.is_grad_enabled()
        ctx.needs_input_grad = tuple(
            enabled and isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        _C._set_grad_enabled(False)
        try:
            outputs = cls.forward(ctx, *args, **kwargs)
        finally:
            _C._set_grad_enabled(enabled)
        return _C._function_apply(cls, ctx, args, outputs)
