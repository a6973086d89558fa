# SPDX-License-Identifier: BSD-3-Clause
"""Padding modules (ConstantPad*, ZeroPad2d, ReflectionPad*, ReplicationPad*): each one
call of F.pad with torch's (left, right, top, bottom, ...) order."""
from . import functional as F
from .modules import Module


def _padding(padding, n):
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(padding)
    if len(padding) != 2 * n:
        raise ValueError(f"expected an int or {2 * n} padding sizes, got {len(padding)}")
    return padding


class _Pad(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = _padding(padding, self.dims)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, self.mode, self.value)

    def extra_repr(self):
        if self.mode == "constant":
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _pad_class(name, mode, dims):
    if mode == "constant":
        def __init__(self, padding, value):
            _Pad.__init__(self, padding, value)
    else:
        def __init__(self, padding):
            _Pad.__init__(self, padding)
    return type(name, (_Pad,), {"mode": mode, "dims": dims, "__init__": __init__,
                                "__doc__": f"{mode} padding of the last {dims} dim(s)."})


ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1)
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2)
ConstantPad3d = _pad_class("ConstantPad3d", "constant", 3)
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1)
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2)
ReflectionPad3d = _pad_class("ReflectionPad3d", "reflect", 3)
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1)
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2)
ReplicationPad3d = _pad_class("ReplicationPad3d", "replicate", 3)


class ZeroPad2d(ConstantPad2d):
    """Zero padding of the last 2 dims."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"
