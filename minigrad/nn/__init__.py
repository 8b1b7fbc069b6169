"""Neural-network layers, losses, initialisation and a small model zoo (PyTorch's ``torch.nn``).

    >>> import minigrad.nn as nn
    >>> import minigrad.nn.functional as F
    >>> model = nn.Sequential(nn.Linear(9, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> model.num_parameters()
    194

Modules hold state (parameters, buffers, submodules) and call :mod:`minigrad.nn.functional`;
the maths and the gradients live in the ops.
"""

from minigrad import _hints
from minigrad.nn import functional, init, models, utils
from minigrad.nn.modules import (  # upsampling and dense prediction
    CELU,
    ELU,
    GELU,
    SELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCELoss,
    BCEWithLogitsLoss,
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    CrossEntropyLoss,
    Dropout,
    Dropout2d,
    Flatten,
    Fold,
    GlobalAvgPool2d,
    Hardtanh,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Maxout,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
    Module,
    ModuleDict,
    ModuleList,
    MSELoss,
    NLLLoss,
    PixelShuffle,
    PixelUnshuffle,
    ReLU,
    ReLU6,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    SyncBatchNorm,
    Tanh,
    Unfold,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from minigrad.nn.modules.container import ParameterDict, ParameterList  # issue 15
from minigrad.nn.modules.distance import CosineSimilarity, PairwiseDistance  # issue 15
from minigrad.nn.modules.loss import (  # issue 15
    CosineEmbeddingLoss,
    CTCLoss,
    HuberLoss,
    KLDivLoss,
    MarginRankingLoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from minigrad.nn.modules.normalization import (  # issue 15
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    RMSNorm,
)
from minigrad.nn.modules.sparse import Embedding, EmbeddingBag  # issue 15
from minigrad.nn.parameter import Parameter

# issue 15, sequence models (h15b)
from minigrad.nn.modules import (  # isort: skip
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    MultiheadAttention,
    RNNBase,
    RNNCell,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "functional", "init", "utils", "models", "Parameter", "Module", "Sequential", "ModuleList",
    "ModuleDict", "Identity", "Linear", "Flatten", "Conv1d", "Conv2d", "ConvTranspose2d",
    "MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d", "Dropout",
    "Dropout2d", "BatchNorm1d", "BatchNorm2d", "SyncBatchNorm", "ReLU", "ReLU6", "LeakyReLU",
    "ELU", "SELU", "CELU",
    "Sigmoid", "LogSigmoid", "Tanh", "SiLU", "GELU", "Softplus", "Hardtanh", "Maxout", "Softmax",
    "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss",
    # upsampling and dense prediction
    "ConvTranspose1d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
    "PixelUnshuffle", "Fold", "Unfold", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    # issue 15: normalisation, embeddings, losses, containers
    "LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d", "Embedding",
    "EmbeddingBag", "KLDivLoss", "HuberLoss", "SmoothL1Loss", "MarginRankingLoss",
    "CosineEmbeddingLoss", "TripletMarginLoss", "CosineSimilarity", "PairwiseDistance", "CTCLoss",
    "ParameterList", "ParameterDict",
    # issue 15, sequence models (h15b)
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "Transformer",
]

# An unknown attribute whose PyTorch name we know gets a hint (`nn.PReLU`: not implemented yet).
__getattr__ = _hints.module_getattr(__name__)
