"""The multi-layer perceptron of the lectures, built in one line."""

from ..validation import check_bool, check_choice, check_int, check_number
from . import init as initializers
from .activation import get_activation
from .layers import BatchNorm1d, Dropout, LayerNorm, Linear, Residual
from .module import Sequential
from .rng import as_generator

NORMS = {None: None, "batch": BatchNorm1d, "layer": LayerNorm}


class MLP(Sequential):
    """Fully connected layers with an activation after each hidden one: the N-layer perceptron.

    ``MLP([64, 128, 128, 10])`` is ``Linear(64, 128), ReLU(), Linear(128, 128), ReLU(),
    Linear(128, 10)``, laid out (and named ``"0.weight"``, ``"2.weight"``...) as the same
    ``torch.nn.Sequential`` would be. Each hidden layer is ``Linear → [norm] → activation → [dropout]``.
    The output is linear unless ``output`` names an activation: keep it linear for
    :func:`~chainrule.nn.functional.cross_entropy` (which takes logits) and for regression with
    :func:`~chainrule.nn.functional.mse_loss`. ``MLP([2, 1])`` is a single-layer perceptron.

    Args:
        sizes: the widths, input first and output last (at least two).
        activation: the hidden activation: a name (see :func:`~chainrule.nn.get_activation`), a module
            class (one instance per layer) or a module (shared by every hidden layer).
        output: ``None`` for a linear output, or an activation after the last layer.
        dropout: the dropout probability after each hidden activation, in [0, 1).
        norm: ``None``, ``"batch"`` (BatchNorm1d) or ``"layer"`` (LayerNorm) after each hidden Linear.
        residual: wrap each hidden layer whose input and output widths match as ``x + layer(x)``.
        init: ``None`` for :class:`Linear`'s default, or a scheme name (``"kaiming_normal"``...) whose
            gain follows the activation after each layer (the output layer's gain is 1 when it is
            linear), or a callable ``f(weight, generator=...)``.
        seed: seeds the weights and the dropout masks (an int, a ``numpy.random.Generator``, or
            ``None`` for the shared default generator).

    Example:
        >>> MLP([2, 8, 1], activation="tanh", output="sigmoid")
        MLP(
          (0): Linear(in_features=2, out_features=8, bias=True)
          (1): Tanh()
          (2): Linear(in_features=8, out_features=1, bias=True)
          (3): Sigmoid()
        )
    """

    def __init__(self, sizes, activation="relu", output=None, dropout=0.0, norm=None, residual=False,
                 init=None, seed=0):
        sizes = _check_sizes(sizes)
        get_activation(activation)
        if output is not None:
            get_activation(output)
        check_number(dropout, "dropout", 0, 1, what="a probability", owner="MLP")
        check_choice(norm, "norm", NORMS, owner="MLP")
        check_bool(residual, "residual", owner="MLP")
        if init is not None:
            initializers.get_initializer(init)
        generator = as_generator(seed, "seed")

        def linear(fan_in, fan_out, follower):
            weight_init = None if init is None else initializers.get_initializer(
                init, getattr(follower, "nonlinearity", "linear"), getattr(follower, "negative_slope", None))
            return Linear(fan_in, fan_out, init=weight_init, generator=generator)

        layers = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            act = get_activation(activation)
            block = [linear(fan_in, fan_out, act)]
            if norm is not None:
                block.append(NORMS[norm](fan_out))
            block.append(act)
            if dropout:
                block.append(Dropout(dropout, generator=generator))
            if residual and fan_in == fan_out:
                layers.append(Residual(Sequential(*block)))
            else:
                layers.extend(block)
        last = None if output is None else get_activation(output)
        layers.append(linear(sizes[-2], sizes[-1], last))
        if last is not None:
            layers.append(last)
        super().__init__(*layers)


def _check_sizes(sizes):
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        raise ValueError(f"MLP: sizes must be a list of at least two widths (input and output), "
                         f"not {sizes!r}")
    return [check_int(size, f"sizes[{i}]", 1, owner="MLP") for i, size in enumerate(sizes)]
