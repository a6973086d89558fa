# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn.Module and the first layers, in Python as torch's are: a module finds its
parameters and children among its attributes; its forward calls kiln's C++ ops."""
import collections
import math

from .. import _C, no_grad
from ..utils.hooks import BackwardHook, RemovableHandle
from . import functional as F
from . import init


class Parameter(_C.Tensor):
    """A tensor that a Module registers as a parameter when assigned as an attribute
    (torch.nn.Parameter). It shares `data`'s memory and requires grad by default."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data.detach())
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """torch.nn.Module: subclass it, assign Parameters and Modules as attributes in
    __init__, and define forward."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_forward_pre_hooks", collections.OrderedDict())
        object.__setattr__(self, "_forward_hooks", collections.OrderedDict())
        object.__setattr__(self, "_backward_hooks", collections.OrderedDict())

    # ---- attributes ------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign before Module.__init__() call")
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for key in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(key)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            "(kiln.nn.Parameter or None required)")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor the module keeps (running statistics...): moved by to(), and in
        state_dict unless persistent=False."""
        if tensor is not None and not isinstance(tensor, _C.Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}' "
                            "(kiln.Tensor or None required)")
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal -------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, key, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, t in getattr(m, key).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield mod_prefix + ("." if mod_prefix else "") + name, t

    def named_parameters(self, prefix="", recurse=True):
        """Parameters by dotted name ("features.0.weight"); a shared one is listed once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ---------------------------------------------------------
    def train(self, mode=True):
        object.__setattr__(self, "training", bool(mode))
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p._zero_grad(set_to_none)

    # ---- state -----------------------------------------------------------------------
    def state_dict(self, prefix=""):
        """Parameters then buffers, module by module, as torch orders them; detached
        tensors sharing the module's memory."""
        out = collections.OrderedDict()
        for name, t in self._parameters.items():
            if t is not None:
                out[prefix + name] = t.detach()
        for name, t in self._buffers.items():
            if t is not None and name not in self._non_persistent_buffers_set:
                out[prefix + name] = t.detach()
        for name, m in self._modules.items():
            if m is not None:
                out.update(m.state_dict(prefix + name + "."))
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies `state_dict` into the module's own tensors. Every problem (missing or
        unexpected keys with strict, any shape mismatch) is reported in one error, and
        nothing is loaded when there is one."""
        mine = self.state_dict()
        missing = [k for k in mine if k not in state_dict]
        unexpected = [k for k in state_dict if k not in mine]
        mismatched = [f"{k}: copying a param with shape {tuple(state_dict[k].shape)}, the shape "
                      f"in current model is {tuple(t.shape)}"
                      for k, t in mine.items() if k in state_dict
                      and tuple(state_dict[k].shape) != tuple(t.shape)]
        problems = []
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               + ". ".join(problems) + ". Nothing was loaded.")
        with no_grad():
            for k, t in mine.items():
                if k in state_dict:
                    t[...] = state_dict[k]
        return _IncompatibleKeys(missing, unexpected)

    def to(self, *args, **kwargs):
        """to(dtype), to(device), to(device, dtype), to(tensor) (its dtype), or keywords:
        converts every floating parameter and buffer to the dtype (new Parameters: create
        the optimizer after moving the model, as torch advises); integer buffers such as
        num_batches_tracked keep theirs. kiln runs on the CPU only."""
        dtype = _to_dtype_arg(args, kwargs)
        if dtype is None:
            return self
        if not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={dtype}")
        for m in self.modules():
            for name, p in list(m._parameters.items()):
                if p is not None and p.is_floating_point() and p.dtype != dtype:
                    m._parameters[name] = Parameter(p.detach().to(dtype), p.requires_grad)
            for name, b in list(m._buffers.items()):
                if b is not None and b.is_floating_point() and b.dtype != dtype:
                    m._buffers[name] = b.to(dtype)
        return self

    def double(self):
        return self.to(_C.float64)

    def float(self):
        return self.to(_C.float32)

    # ---- calling and printing --------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    # ---- hooks -----------------------------------------------------------------------
    def register_forward_pre_hook(self, hook):
        """hook(module, args) runs before forward; a non-None result (a tuple, or one
        value) replaces the positional arguments."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """hook(module, args, output) runs after forward; a non-None result replaces the
        output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """hook(module, grad_input, grad_output) runs once the gradients with respect to
        the module's tensor inputs are computed (None for an input that needs none); a
        non-None result replaces grad_input."""
        return self._add_hook(self._backward_hooks, hook)

    @staticmethod
    def _add_hook(hooks, hook):
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if self._backward_hooks:
            backward_hook = BackwardHook(self, self._backward_hooks)
            args = backward_hook.setup_input_hook(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hook is not None:
            output = backward_hook.setup_output_hook(output)
        return output

    def extra_repr(self):
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, m in self._modules.items():
            if m is not None:
                body = repr(m).replace("\n", "\n  ")
                child_lines.append(f"({name}): {body}")
        lines = extra_lines + child_lines
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        if not lines:
            return f"{type(self).__name__}()"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


def _to_dtype_arg(args, kwargs):
    """The dtype in Module.to's arguments (None when only a device is given)."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, _C.Tensor):
            dtype = a.dtype
        elif isinstance(a, str) or a is None:
            device = a
        else:
            raise TypeError(f"to() received an invalid argument of type {type(a).__name__}")
    _check_device(device)
    return dtype


def _weight_and_bias(module, weight_shape, bias_size, bias, dtype):
    """Registers weight (and bias, or None) and initialises them as torch's Linear and
    Conv do: kaiming_uniform_(a = sqrt(5)) for the weight, U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) for the bias."""
    dtype = dtype or _C.float32
    module.weight = Parameter(_C.empty(*weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(_C.empty(bias_size, dtype=dtype))
    else:
        module.register_parameter("bias", None)
    _reset_weight_and_bias(module.weight, module.bias)


def _reset_weight_and_bias(weight, bias):
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x W^T + b, with torch's initialisation (kaiming_uniform_(a = sqrt(5)) for W,
    U(-1/sqrt(in), 1/sqrt(in)) for b)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in_features), out_features, bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


def _activation(name, fn):
    cls = type(name, (Module,), {"forward": lambda self, x: fn(x),
                                 "__doc__": f"torch.nn.{name}: {fn.__name__} of the input."})
    return cls


ReLU = _activation("ReLU", _C.relu)
Tanh = _activation("Tanh", _C.tanh)
Sigmoid = _activation("Sigmoid", _C.sigmoid)
SiLU = _activation("SiLU", _C.silu)


class Sequential(Module):
    """Runs its modules in order; children are named "0", "1", ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class Conv2d(Module):
    """2-D convolution, weight [out, in / groups, kH, kW], torch's initialisation."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode,
                         device)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.dilation, self.groups = _pair(dilation), groups
        self.padding_mode = padding_mode
        _weight_and_bias(self, (out_channels, in_channels // groups, *self.kernel_size),
                         out_channels, bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x):
        return _conv_forward(self, x, F.conv2d)

    def extra_repr(self):
        return _conv_repr(self)


def _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode, device):
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of "
                             "{'valid', 'same'}")
        strides = stride if isinstance(stride, (tuple, list)) else (stride,)
        if padding == "same" and any(s != 1 for s in strides):
            raise ValueError("padding='same' is not supported for strided convolutions")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) "
                         f"must be divisible by groups ({groups})")
    modes = ("zeros", "reflect", "replicate", "circular")
    if padding_mode not in modes:
        raise ValueError(f"padding_mode must be one of {modes}, but got "
                         f"padding_mode='{padding_mode}'")
    _check_device(device)


def _check_device(device):
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"kiln runs on the CPU only; cannot place a module on '{device}'")


def _conv_forward(m, x, conv):
    """conv(x) with the module's weight and options; a padding_mode other than zeros pads
    x first (F.pad) and convolves without padding."""
    padding = m.padding
    if m.padding_mode != "zeros":
        x = F.pad(x, _padding_pairs(m.padding, m.dilation, m.kernel_size), mode=m.padding_mode)
        padding = 0
    return conv(x, m.weight, m.bias, m.stride, padding, m.dilation, m.groups)


def _conv_repr(m):
    s = (f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, "
         f"stride={m.stride}")
    if isinstance(m.padding, str) or any(p != 0 for p in m.padding):
        s += f", padding={m.padding}"
    if any(d != 1 for d in m.dilation):
        s += f", dilation={m.dilation}"
    if any(p != 0 for p in getattr(m, "output_padding", ())):
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


def _padding_pairs(padding, dilation, kernel_size):
    """F.pad's list (last dim first) for a convolution's padding, int or "same"/"valid"."""
    if padding == "valid":
        return [0, 0] * len(kernel_size)
    pads = []
    for i in reversed(range(len(kernel_size))):
        if padding == "same":
            total = dilation[i] * (kernel_size[i] - 1)
            pads += [total // 2, total - total // 2]
        else:
            pads += [padding[i], padding[i]]
    return pads


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"
