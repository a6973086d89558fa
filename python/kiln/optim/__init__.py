# SPDX-License-Identifier: BSD-3-Clause
"""kiln.optim: torch.optim's optimizers and LR schedulers. Each optimizer's step() makes
one C++ call per parameter, which applies the whole update rule in one fused pass over
the parameter and its state; the schedulers are scalar arithmetic on the groups' lrs."""
from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401
