# SPDX-License-Identifier: BSD-3-Clause
"""kiln.autograd: torch.autograd's functional entry points over kiln's C++ engine."""
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
