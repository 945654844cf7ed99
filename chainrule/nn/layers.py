"""Layers: Linear, Embedding, Dropout, BatchNorm1d, LayerNorm, Identity and a residual wrapper.

Parameters are float32. Every layer that draws random numbers takes a ``generator`` (a
``numpy.random.Generator``, an int seed, or ``None`` for the shared default of :mod:`chainrule.nn.rng`).
"""

import math

import numpy as np

from .. import backend, ops
from ..core.graph import is_recording
from ..core.tensor import Tensor, numeric_array, unwrap
from ..errors import ShapeError
from ..validation import check_int, check_number
from . import functional as F
from . import init as initializers
from .module import Module, Parameter, check_module
from .rng import as_generator


class Linear(Module):
    """A fully connected layer ``y = x @ weight.T + bias``, with ``weight`` of shape ``(out, in)``.

    Default initialisation (``init=None``) is PyTorch's: weight and bias uniform in
    ``±1/√in_features`` (``kaiming_uniform_`` with ``a=√5``), so the same seed-free recipe gives the
    same distribution in both. With ``init`` set, the weight is drawn by that scheme (a name or a
    callable, see :func:`chainrule.nn.init.get_initializer`; ``"kaiming_normal"`` is He's init for ReLU
    nets) and the bias starts at zero. Inputs of another dtype are converted to the weight's.

    Args:
        in_features: the width of the input's last axis.
        out_features: the width of the output's last axis.
        bias: whether to add a learned bias.
        init: ``None``, an init scheme name or a callable ``f(weight, generator=...)``.
        generator: for the initial values.
        dtype: the parameters' dtype.

    Example:
        >>> import chainrule as cr
        >>> layer = Linear(3, 2, generator=0)
        >>> layer.weight.shape, layer(cr.ones(5, 3)).shape
        ((2, 3), (5, 2))
    """

    def __init__(self, in_features, out_features, bias=True, init=None, generator=None, dtype="float32"):
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear: in_features")
        self.out_features = _positive_int(out_features, "Linear: out_features")
        generator = as_generator(generator)
        # Column-major, so that weight.T is a contiguous (in, out) matrix: x @ weight.T is then the
        # product BLAS does fastest, as in a hand-written NumPy network.
        self.weight = Parameter(np.zeros((in_features, out_features)).T, dtype=dtype)
        self.bias = Parameter(np.zeros(out_features), dtype=dtype) if bias else None
        if init is None:
            bound = 1 / math.sqrt(in_features)
            initializers.uniform_(self.weight, -bound, bound, generator)
            if bias:
                initializers.uniform_(self.bias, -bound, bound, generator)
        else:
            initializers.get_initializer(init)(self.weight, generator=generator)

    def forward(self, x):
        shape = np.shape(x.data if isinstance(x, Tensor) else numeric_array(x, None, "Linear"))
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(f"Linear({self.in_features} -> {self.out_features}): expected an input of "
                             f"shape (..., {self.in_features}), got {shape}")
        return F.linear(_cast(x, self.weight.dtype), self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector of token ``i``; initialised ``N(0, 1)``.

    Args:
        num_embeddings: the number of rows (the vocabulary size).
        embedding_dim: the width of each row.
        padding_idx: a row (negative counts from the end) that starts at zero and never gets a
            gradient, as in PyTorch: padding tokens then stay where they are.
        generator: for the initial values.
        dtype: the weight's dtype.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, generator=None, dtype="float32"):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = _positive_int(embedding_dim, "Embedding: embedding_dim")
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.weight = Parameter(np.zeros((num_embeddings, embedding_dim)), dtype=dtype)
        initializers.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An embedding holding ``embeddings`` (``(num_embeddings, embedding_dim)``, kept as they are,
        the padding row included); ``freeze`` leaves them out of training (``requires_grad=False``)."""
        values = backend.asarray(unwrap(embeddings))
        if values.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                             f"embedding_dim), got shape {values.shape}")
        layer = cls(*values.shape, padding_idx=padding_idx, generator=0, dtype=values.dtype)
        layer.weight = Parameter(values.copy(), requires_grad=not freeze, dtype=values.dtype)
        return layer

    def forward(self, indices):
        indices = backend.asarray(unwrap(indices))
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{self._name()}: indices must be integers, not {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            raise IndexError(f"{self._name()}: indices must lie in [0, {self.num_embeddings}), found "
                             f"values from {indices.min()} to {indices.max()}")
        rows = ops.take(self.weight, indices, axis=0)
        if self.padding_idx is None:
            return rows
        if is_recording():  # the mask as an operation: every replay of a compiled step masks its batch
            padding = ops.unsqueeze(Tensor(indices) == self.padding_idx, axis=-1)
        elif (indices == self.padding_idx).any():
            padding = np.expand_dims(indices == self.padding_idx, -1)
        else:
            return rows
        # The padding row's value, cut from the graph: its gradient stays zero.
        return ops.where(padding, self.weight.data[self.padding_idx], rows)

    def _name(self):
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


def _padding_index(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) or not (
            -num_embeddings <= padding_idx < num_embeddings):
        raise ValueError(f"Embedding: padding_idx must be an int in [-{num_embeddings}, {num_embeddings}), "
                         f"not {padding_idx!r}")
    return int(padding_idx) % num_embeddings


class Dropout(Module):
    """Inverted dropout in training mode (see :func:`chainrule.nn.functional.dropout`); the identity
    in evaluation mode.

    Args:
        p: the probability of zeroing each element, in [0, 1].
        generator: draws the masks; an int seed makes the sequence of masks reproducible.
        inplace: accepted for PyTorch's signature; chainrule never overwrites its input.
    """

    def __init__(self, p=0.5, generator=None, inplace=False):
        super().__init__()
        F.check_probability(p, "Dropout")
        if not isinstance(inplace, bool):
            raise TypeError(f"Dropout: inplace must be True or False, not {inplace!r}")
        self.p = p
        self.generator = None if generator is None else as_generator(generator)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, per feature ``C``.

    Training mode normalises with the batch's mean and (biased) variance and updates the running
    statistics (``running_var`` from the unbiased variance, as in PyTorch); evaluation mode uses the
    running statistics. ``weight`` starts at one and ``bias`` at zero.

    Args:
        num_features: ``C``.
        eps: added to the variance before the square root.
        momentum: how far the running statistics move towards each batch's, in [0, 1].
        affine: whether to learn ``weight`` and ``bias``.
        dtype: the parameters' and buffers' dtype.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype="float32"):
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, f"{name}: num_features")
        self.eps = _positive_number(eps, f"{name}: eps")
        check_number(momentum, "momentum", 0, 1, high_open=False, owner=name)
        self.momentum = momentum
        self.weight = Parameter(np.ones(num_features), dtype=dtype) if affine else None
        self.bias = Parameter(np.zeros(num_features), dtype=dtype) if affine else None
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))

    _layouts = {2: "(N, {c})", 3: "(N, {c}, L)"}

    def forward(self, x):
        shape = np.shape(unwrap(x))
        if len(shape) not in self._layouts or shape[1] != self.num_features:
            expected = " or ".join(layout.format(c=self.num_features) for layout in self._layouts.values())
            raise ShapeError(f"{type(self).__name__}({self.num_features}): expected an input of shape "
                             f"{expected}, got {shape}")
        if self.training:
            ops.running_update(self.num_batches_tracked, 1)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}")


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of ``(N, C, H, W)`` inputs per channel ``C``, over ``N``, ``H`` and ``W``;
    otherwise as :class:`BatchNorm1d` (PyTorch's parameters, buffers and momentum)."""

    _layouts = {4: "(N, {c}, H, W)"}


class LayerNorm(Module):
    """Normalisation of each example over its last axes (``normalized_shape``), then a learned
    elementwise scale (starting at one) and shift (starting at zero).

    Args:
        normalized_shape: the trailing shape to normalise over (an int for the last axis).
        eps: added to the variance before the square root.
        elementwise_affine: whether to learn ``weight`` and ``bias``.
        bias: whether to learn ``bias`` too (with ``elementwise_affine``), as in PyTorch.
        dtype: the parameters' dtype.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype="float32"):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        for size in shape:
            _positive_int(size, f"LayerNorm: normalized_shape {normalized_shape!r}")
        self.normalized_shape = shape
        self.eps = _positive_number(eps, "LayerNorm: eps")
        self.weight = Parameter(np.ones(shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class Identity(Module):
    """Returns its input: a placeholder where a layer is optional."""

    nonlinearity = "linear"

    def forward(self, x):
        return x


class Residual(Module):
    """A skip connection around ``module``: ``x + module(x)``.

    Args:
        module: a module whose output has its input's shape.
    """

    def __init__(self, module):
        super().__init__()
        self.module = check_module(module, "Residual: module")

    def forward(self, x):
        y = self.module(x)
        if np.shape(unwrap(y)) != np.shape(unwrap(x)):
            raise ShapeError(f"Residual: the wrapped {type(self.module).__name__} maps shape "
                             f"{np.shape(unwrap(x))} to {np.shape(unwrap(y))}; x + f(x) needs them equal")
        return x + y


def _cast(x, dtype):
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else ops.astype(x, dtype=dtype)
    return backend.asarray(x, dtype=dtype)


def _positive_int(value, where):
    """``value`` as an int if it is positive; ``where`` is ``"Owner: name"`` (see chainrule.validation)."""
    owner, _, name = where.rpartition(": ")
    return check_int(value, name, 1, owner=owner or None)


def _positive_number(value, where):
    owner, _, name = where.rpartition(": ")
    check_number(value, name, 0, low_open=True, owner=owner or None)
    return value
