# SPDX-License-Identifier: BSD-3-Clause
"""AdaptiveAvgPool2d (MaxPool2d and AvgPool2d are in modules.py)."""
from . import functional as F
from .modules import Module


class AdaptiveAvgPool2d(Module):
    """Averages [N, C, H, W] (or [C, H, W]) into output_size cells; an int gives a
    square, None in a pair keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
