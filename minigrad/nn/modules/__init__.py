"""The layers of :mod:`minigrad.nn` (one module per family, as PyTorch's ``torch.nn.modules``)."""

from minigrad.nn.modules.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Maxout,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from minigrad.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from minigrad.nn.modules.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from minigrad.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from minigrad.nn.modules.distance import CosineSimilarity, PairwiseDistance
from minigrad.nn.modules.dropout import Dropout, Dropout2d
from minigrad.nn.modules.fold import Fold, Unfold
from minigrad.nn.modules.linear import Flatten, Identity, Linear
from minigrad.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from minigrad.nn.modules.module import Module, RemovableHandle
from minigrad.nn.modules.normalization import (
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    RMSNorm,
)
from minigrad.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle
from minigrad.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
)
from minigrad.nn.modules.sparse import Embedding, EmbeddingBag
from minigrad.nn.modules.syncbatchnorm import SyncBatchNorm
from minigrad.nn.modules.upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

# issue 15, sequence models (h15b): recurrent layers, attention and Transformers
from minigrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell  # isort: skip
from minigrad.nn.modules.transformer import (  # isort: skip
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

# isort: split
# -- issue 14 (h14a): more activations --------------------------------------------------------
from minigrad.nn.modules.activation import (
    GLU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Mish,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)

__all__ = [
    "Module", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear",
    "Flatten", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "MaxUnpool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "GlobalAvgPool2d", "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d",
    "SyncBatchNorm",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "Sigmoid", "LogSigmoid", "Tanh", "SiLU",
    "GELU", "Softplus", "Hardtanh", "Maxout", "Softmax", "LogSoftmax", "CrossEntropyLoss",
    "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
    # upsampling and dense prediction
    "ConvTranspose1d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
    "PixelUnshuffle", "Fold", "Unfold", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    # issue 15: normalisation, embeddings, losses, containers
    "LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d", "Embedding",
    "EmbeddingBag", "KLDivLoss", "HuberLoss", "SmoothL1Loss", "MarginRankingLoss",
    "CosineEmbeddingLoss", "TripletMarginLoss", "CosineSimilarity", "PairwiseDistance", "CTCLoss",
    "ParameterList", "ParameterDict",
    # issue 14 (h14a)
    "Hardsigmoid", "Hardswish", "Softsign", "Mish", "Tanhshrink", "Softshrink", "Hardshrink",
    "Threshold", "Softmin", "GLU",
    # issue 15, sequence models (h15b)
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "Transformer",
]
