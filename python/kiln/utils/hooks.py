# SPDX-License-Identifier: BSD-3-Clause
"""kiln.utils.hooks: the handle a registered hook returns (torch.utils.hooks'
RemovableHandle), and the backward hooks of nn.Module (Note [Module backward hooks] in
python_bindings/src/bind_autograd.cpp)."""
import itertools
import weakref

from .. import _C

_ids = itertools.count()


class RemovableHandle:
    """Removes the hook it was returned for from its registry: `handle.remove()`, or
    leaving a `with handle:` block."""

    def __init__(self, hooks_dict):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(_ids)

    def remove(self):
        hooks_dict = self.hooks_dict_ref()
        if hooks_dict is not None:
            hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _needs_grad(x):
    return isinstance(x, _C.Tensor) and x.requires_grad


class BackwardHook:
    """One module call's full backward hooks, as torch's: the tensor inputs and outputs
    that require grad each pass through one identity node; the output node's backward
    keeps grad_output, the input node's calls every hook as
    hook(module, grad_input, grad_output) and may replace grad_input."""

    def __init__(self, module, hooks):
        self.module = module
        self.hooks = hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        index = [i for i, a in enumerate(args) if _needs_grad(a)]
        if not index or not _C.is_grad_enabled():
            return args
        self.input_index = index
        wrapped = _C._backward_hook_identity([args[i] for i in index], self._on_input_grads)
        args = list(args)
        for i, w in zip(index, wrapped):
            args[i] = w
        return tuple(args)

    def setup_output_hook(self, result):
        single = isinstance(result, _C.Tensor)
        outputs = (result,) if single else result
        if not isinstance(outputs, tuple):
            return result
        index = [i for i, o in enumerate(outputs) if _needs_grad(o)]
        if not index or not _C.is_grad_enabled():
            return result
        self.n_outputs = len(outputs)
        self.output_index = index
        wrapped = _C._backward_hook_identity([outputs[i] for i in index], self._on_output_grads)
        outputs = list(outputs)
        for i, w in zip(index, wrapped):
            outputs[i] = w
        return outputs[0] if single else tuple(outputs)

    def _pack(self, grads, index, n):
        packed = [None] * n
        for i, g in zip(index, grads):
            packed[i] = g
        return tuple(packed)

    def _on_output_grads(self, grads):
        self.grad_outputs = self._pack(grads, self.output_index, self.n_outputs)
        if self.input_index is None:
            # No input requires grad: the hooks run now, with grad_input all None.
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks.values():
                if hook(self.module, grad_inputs, self.grad_outputs) is not None:
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None.")
        return None

    def _on_input_grads(self, grads):
        grad_inputs = self._pack(grads, self.input_index, self.n_inputs)
        for hook in self.hooks.values():
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != len(grad_inputs):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(result)}, but expected {len(grad_inputs)}")
            grad_inputs = result
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_index]
