# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn: torch.nn's Module, Parameter and the first layers and losses."""
from . import functional, init  # noqa: F401
from .modules import (  # noqa: F401
    GELU,
    CrossEntropyLoss,
    Flatten,
    Identity,
    Linear,
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
