# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn: torch.nn's Module, Parameter and the first layers and losses."""
from . import functional, init, utils  # noqa: F401
from .modules import (  # noqa: F401
    GELU,
    AvgPool2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    Module,
    ModuleList,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Tanh,
)
