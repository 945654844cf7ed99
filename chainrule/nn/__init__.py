"""Neural networks: modules, layers, activations, losses, initialisers, the MLP in one line.

Example:
    >>> import numpy as np
    >>> import chainrule.nn as nn
    >>> import chainrule.nn.functional as F
    >>> model = nn.MLP([2, 16, 2], activation="tanh", seed=0)
    >>> x, y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([0, 1, 1, 0])
    >>> loss = F.cross_entropy(model(x), y)
    >>> loss.backward()
    >>> model[0].weight.grad.shape
    (16, 2)
"""

from . import functional, init, rng, utils
from .activation import (ACTIVATIONS, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Step, Tanh,
                         get_activation)
from .attention import MultiheadAttention
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d
from .layers import BatchNorm1d, BatchNorm2d, Dropout, Embedding, Identity, LayerNorm, Linear, Residual
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, HingeLoss, L1Loss, MSELoss, NLLLoss
from .mlp import MLP
from .transformer import (LearnedPositionalEmbedding, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Dropout2d, Flatten, MaxPool1d,
                      MaxPool2d)
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .stateless import functional_call

__all__ = [
    "functional", "init", "rng", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "LoadResult",
    "Linear", "Embedding", "Dropout", "BatchNorm1d", "LayerNorm", "Identity", "Residual",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "BatchNorm2d", "MaxPool1d",
    "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Flatten", "Dropout2d",
    "Step", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "GELU", "Softmax", "LogSoftmax",
    "ACTIVATIONS", "get_activation",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss", "HingeLoss",
    "MLP",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "LearnedPositionalEmbedding",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "functional_call",
]
