"""Convolutional networks for the bundled data sets (``chainrule train --model cnn``: see
:mod:`chainrule.train.zoo`).

- :class:`CNN1d`, the MNIST-1D paper's CNN (Greydanus, 2020): three ``Conv1d`` layers with ReLU (kernel
  5 then 3, stride 2, padding 1) and a linear classifier on the flattened features.
- :class:`CNN2d`, a small VGG-style image CNN: blocks of ``3x3`` convolution (same padding), optional
  batch normalisation, ReLU and ``2x2`` max pooling, then a hidden linear layer with dropout.

Example:
    >>> import chainrule as cr
    >>> CNN2d((1, 28, 28), channels=(8, 16), num_classes=10, seed=0)(cr.zeros(2, 1, 28, 28)).shape
    (2, 10)
"""

import math

from . import functional as F
from .conv import Conv1d, Conv2d
from .layers import BatchNorm2d, Dropout, Linear
from .module import Module, ModuleList
from .pooling import Flatten, MaxPool2d
from .rng import as_generator


class CNN1d(Module):
    """Strided 1-D convolutions with ReLU, then a linear classifier (MNIST-1D's ``ConvBase``).

    Args:
        input_shape: ``(C, L)`` of one example.
        channels: the width of each convolution (the paper: three of 25).
        num_classes: the classifier's outputs.
        seed: for the initial weights.
    """

    def __init__(self, input_shape, channels=(25, 25, 25), num_classes=10, seed=None):
        super().__init__()
        generator = as_generator(seed)
        in_channels, length = input_shape
        self.convs = ModuleList()
        for i, width in enumerate(channels):
            kernel = 5 if i == 0 else 3
            self.convs.append(Conv1d(in_channels, width, kernel, stride=2, padding=1, generator=generator))
            in_channels, length = width, (length + 2 - kernel) // 2 + 1
        self.flatten = Flatten()
        self.linear = Linear(in_channels * length, num_classes, generator=generator)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.linear(self.flatten(x))


class CNN2d(Module):
    """Blocks of ``conv 3x3 → [BatchNorm2d] → ReLU → MaxPool 2x2``, then ``Linear → ReLU → Dropout →
    Linear``.

    Args:
        input_shape: ``(C, H, W)`` of one example.
        channels: the width of each block's convolution.
        num_classes: the classifier's outputs.
        hidden: the hidden linear layer's width.
        dropout: the dropout probability before each linear layer.
        batch_norm: whether each block normalises its convolution's output.
        seed: for the initial weights.
    """

    def __init__(self, input_shape, channels=(32, 64), num_classes=10, hidden=128, dropout=0.25,
                 batch_norm=True, seed=None):
        super().__init__()
        generator = as_generator(seed)
        in_channels, height, width = input_shape
        self.blocks = ModuleList()
        for out_channels in channels:
            block = ModuleList([Conv2d(in_channels, out_channels, 3, padding=1, generator=generator)])
            if batch_norm:
                block.append(BatchNorm2d(out_channels))
            block.append(MaxPool2d(2))
            self.blocks.append(block)
            in_channels, height, width = out_channels, height // 2, width // 2
        self.flatten = Flatten()
        self.dropout = Dropout(dropout, generator=generator)
        self.hidden = Linear(in_channels * height * width, hidden, generator=generator)
        self.out = Linear(hidden, num_classes, generator=generator)

    def forward(self, x):
        for block in self.blocks:
            conv, *norm, pool = block
            x = conv(x)
            for layer in norm:
                x = layer(x)
            x = pool(F.relu(x))
        x = F.relu(self.hidden(self.dropout(self.flatten(x))))
        return self.out(self.dropout(x))


def parameter_count(model):
    """The number of trained values in ``model``."""
    return sum(math.prod(p.shape) for p in model.parameters())
