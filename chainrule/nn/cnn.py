"""Convolutional networks for the bundled data sets, and ``chainrule train --model cnn``.

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

from ..train.models import Setting, register_model
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


# -- chainrule train --model cnn ------------------------------------------------------------------

def _channels(text):
    widths = tuple(int(c) for c in str(text).replace(" ", "").strip("()").split(",") if c)
    if not widths or any(w <= 0 for w in widths):
        raise ValueError(f"channels must be positive widths such as 16,32, not {text!r}")
    return widths


def _build_cnn(config, info):
    channels = config.options["channels"]
    if len(info.input_shape) == 2:
        return CNN1d(info.input_shape, channels or (25, 25, 25), info.num_outputs, seed=config.seed)
    if len(info.input_shape) == 3:
        return CNN2d(info.input_shape, channels or (32, 64), info.num_outputs, hidden=config.hidden[0]
                     if config.hidden else 128, dropout=config.dropout, batch_norm=config.norm != "none",
                     seed=config.seed)
    raise ValueError(f"--model cnn needs examples shaped (C, L) or (C, H, W); this data set gives "
                     f"{info.input_shape}: use --model mlp")


def _describe_cnn(config, info, model):
    kind = "CNN1d" if isinstance(model, CNN1d) else "CNN2d"
    widths = ",".join(str(conv.out_channels) for conv in (
        model.convs if kind == "CNN1d" else (block[0] for block in model.blocks)))
    return f"{kind} channels {widths} ({parameter_count(model):,} parameters)"


register_model(
    "cnn", _build_cnn, inputs="shaped", describe=_describe_cnn,
    summary="convolutions: MNIST-1D's three conv1d layers, or conv-pool blocks for images (--channels)",
    settings={"channels": Setting(None, "convolution widths (default 25,25,25 for 1-D data, 32,64 for "
                                  "images)", _channels, "C1,C2,...")},
    defaults={"hidden": (128,), "dropout": 0.25, "norm": "batch", "epochs": 15, "batch_size": 128},
    data_defaults={
        # The MNIST-1D paper's Adam at 1e-2, batch 100, ~6000 steps; weight decay 1e-3 keeps the
        # validation loss falling, so the best epoch by validation loss is a late one.
        "mnist1d": {"lr": 1e-2, "batch_size": 100, "epochs": 150, "weight_decay": 1e-3},
        "digits": {"epochs": 40, "batch_size": 32, "weight_decay": 5e-4},
        "fashion-mnist": {"epochs": 12, "schedule": "cosine"},
    })
