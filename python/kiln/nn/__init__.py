# SPDX-License-Identifier: BSD-3-Clause
"""kiln.nn: torch.nn's Module, Parameter, layers and losses."""
from . import functional, init, utils  # noqa: F401
from .activation import (  # noqa: F401
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU6,
    Softmax,
    Softplus,
)
from .container import ModuleDict, ParameterDict, ParameterList  # noqa: F401
from .conv import Conv1d, ConvTranspose2d  # noqa: F401
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .linear import Bilinear  # noqa: F401
from .loss import (  # noqa: F401
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from .modules import (  # noqa: F401
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Tanh,
)
from .normalization import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    LayerNorm,
    RMSNorm,
)
from .padding import (  # noqa: F401
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad2d,
)
from .pooling import AdaptiveAvgPool2d  # noqa: F401
from .sparse import Embedding  # noqa: F401
from .rnn import GRU, LSTM, GRUCell, LSTMCell  # noqa: F401
from .transformer import (  # noqa: F401
    MultiheadAttention,
    TransformerEncoder,
    TransformerEncoderLayer,
)
