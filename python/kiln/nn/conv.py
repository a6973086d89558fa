# SPDX-License-Identifier: BSD-3-Clause
"""Conv1d and ConvTranspose2d (Conv2d is in modules.py), with torch's arguments,
initialisation and repr; each forward is one call of kiln's C++ convolution."""
from . import functional as F
from .modules import (Module, _check_conv_args, _conv_forward, _conv_repr, _pair,
                      _reset_weight_and_bias, _weight_and_bias)


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class Conv1d(Module):
    """1-D convolution of [N, C, L] (or [C, L]), weight [out, in / groups, k]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode,
                         device)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _single(kernel_size), _single(stride)
        self.padding = padding if isinstance(padding, str) else _single(padding)
        self.dilation, self.groups, self.padding_mode = _single(dilation), groups, padding_mode
        _weight_and_bias(self, (out_channels, in_channels // groups, *self.kernel_size),
                         out_channels, bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return _conv_forward(self, input, F.conv1d)

    def extra_repr(self):
        return _conv_repr(self)


class ConvTranspose2d(Module):
    """The adjoint of Conv2d: [N, in, H, W] -> [N, out, OH, OW] with
    OH = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1; weight
    [in, out / groups, kH, kW]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        _check_conv_args(in_channels, out_channels, groups, 0, stride, padding_mode, device)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.output_padding = _pair(padding), _pair(output_padding)
        self.dilation, self.groups, self.padding_mode = _pair(dilation), groups, padding_mode
        _weight_and_bias(self, (in_channels, out_channels // groups, *self.kernel_size),
                         out_channels, bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def _output_padding(self, input, output_size):
        """The output_padding that gives `output_size` (torch's forward(input,
        output_size))."""
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-2:]
        if len(output_size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 or more elements, got "
                             f"{len(output_size)}")
        pads = []
        for d in range(2):
            size = input.shape[input.ndim - 2 + d]
            smallest = ((size - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            if not smallest <= output_size[d] < smallest + self.stride[d]:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {smallest} to {smallest + self.stride[d] - 1} "
                                 f"(for an input of {tuple(input.shape)[-2:]})")
            pads.append(output_size[d] - smallest)
        return tuple(pads)

    def forward(self, input, output_size=None):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)

    def extra_repr(self):
        return _conv_repr(self)
