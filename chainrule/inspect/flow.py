"""Gradient flow: per parameter, the size of the weights, of their gradients and of their updates, the
share of dead ReLU units, and plain-language warnings when gradients vanish or explode.

Thresholds (module constants, compared on weight matrices, the parameters with two or more axes, in the
order the model lists them, first layer to last):

- vanishing: the first weight's gradient norm is below ``VANISHING_RATIO`` (1e-3) times the last's;
- exploding: that ratio is above ``EXPLODING_RATIO`` (1e3), or any gradient norm is above
  ``EXPLODING_NORM`` (1e3);
- dead ReLUs: more than ``DEAD_FRACTION`` (half) of the units after a layer never activate on the batch;
- large updates: a weight matrix's update-to-weight ratio above ``UPDATE_RATIO`` (0.1); healthy
  training is often near 1e-3, a rule of thumb. (Biases are left out: they often start at zero.)
"""

from typing import NamedTuple

from .. import backend
from ..core.graph import enable_grad
from ._format import format_number, format_table
from ._observers import observing
from ._values import norm

VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
EXPLODING_NORM = 1e3
DEAD_FRACTION = 0.5
UPDATE_RATIO = 0.1


class FlowWarning(NamedTuple):
    """One finding: ``kind`` is ``"vanishing"``, ``"exploding"``, ``"dead_relu"``, ``"large_update"`` or
    ``"no_gradient"``; ``message`` says it in plain words, with what to try."""
    kind: str
    message: str


class FlowReport:
    """The gradient-flow report of a model: see :func:`gradient_flow`.

    Attributes:
        rows: one dict per parameter with ``name``, ``shape``, ``weight_norm``, ``grad_norm``,
            ``update_ratio`` and ``dead_fraction`` (``None`` where unknown).
        warnings: a list of :class:`FlowWarning`.
    """

    def __init__(self, rows, warnings):
        self.rows = rows
        self.warnings = warnings

    def grad_norms(self):
        """``{name: gradient norm}`` of the parameters that have a gradient."""
        return {row["name"]: row["grad_norm"] for row in self.rows if row["grad_norm"] is not None}

    def __str__(self):
        headers = ["parameter", "shape", "|w|", "|grad|", "update/|w|", "dead ReLU"]
        rows = [[row["name"], str(row["shape"]), format_number(row["weight_norm"]),
                 format_number(row["grad_norm"]), format_number(row["update_ratio"]),
                 "-" if row["dead_fraction"] is None else f"{row['dead_fraction']:.0%}"]
                for row in self.rows]
        lines = [format_table(headers, rows)]
        lines += [f"warning ({w.kind}): {w.message}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self):
        kinds = ", ".join(w.kind for w in self.warnings) or "no warnings"
        return f"<FlowReport of {len(self.rows)} parameters: {kinds}>"


def gradient_flow(model, inputs=None, previous=None, lr=None):
    """Report how gradients flow through ``model``'s parameters after a backward pass.

    Args:
        model: a module with ``named_parameters()`` (or a mapping from name to parameter); the
            gradients are read from the parameters' ``.grad``.
        inputs: a batch to run through ``model`` (in evaluation mode, when the model has one) to count
            dead ReLU units: units after a layer whose ReLU output is zero for every example (for a
            convolution, channels zero at every position of every example). A ReLU is attributed to
            the nearest weight matrix (or convolution kernel) upstream of it in the graph.
        previous: the weights before the last update, ``{name: array}`` (see :func:`weights_snapshot`):
            the update-to-weight ratio is then ``|w - w_previous| / |w|``, right for any optimiser.
        lr: without ``previous``, the ratio is estimated as plain SGD's ``lr |grad| / |w|``.

    Returns:
        A :class:`FlowReport`; print it for a table and the warnings.

    Example:
        >>> import chainrule as cr
        >>> w1 = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> w2 = cr.tensor([[0.5], [0.5]], requires_grad=True)
        >>> (cr.tensor([[1.0, 1.0]]) @ w1 @ w2).sum().backward()
        >>> report = gradient_flow({"w1": w1, "w2": w2}, lr=0.1)
        >>> [(row["name"], round(row["grad_norm"], 3), round(row["update_ratio"], 4)) for row in report.rows]
        [('w1', 1.0, 0.0183), ('w2', 7.211, 1.0)]
        >>> [w.kind for w in report.warnings]
        ['large_update']
    """
    parameters = _named_parameters(model)
    if all(p.grad is None for _, p in parameters):
        raise ValueError("gradient_flow(): no parameter has a gradient yet; call loss.backward() first")
    dead = {} if inputs is None else _dead_fractions(model, inputs, parameters)
    rows = [{"name": name, "shape": tuple(p.shape), "weight_norm": norm(p),
             "grad_norm": None if p.grad is None else norm(p.grad),
             "update_ratio": _update_ratio(name, p, previous, lr), "dead_fraction": dead.get(name)}
            for name, p in parameters]
    weights = [row for row, (_, p) in zip(rows, parameters, strict=True) if p.ndim >= 2]
    return FlowReport(rows, _warnings(rows, weights))


def weights_snapshot(model):
    """Copies of the parameters' values, ``{name: array}``: pass as ``previous`` after an update."""
    return {name: p.data.copy() for name, p in _named_parameters(model)}


def _named_parameters(model):
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if hasattr(model, "items"):
        return list(model.items())
    raise TypeError(f"model must have named_parameters() or be a mapping from names to parameters, "
                    f"not {type(model).__name__}")


def _update_ratio(name, p, previous, lr):
    weight_norm = norm(p)
    if weight_norm == 0:
        return None
    if previous is not None:
        if name not in previous:
            return None
        return float(backend.xp.linalg.norm((p.data - previous[name]).ravel())) / weight_norm
    if lr is not None and p.grad is not None:
        return lr * norm(p.grad) / weight_norm
    return None


def _warnings(rows, weights):
    return [*_missing_gradients(rows), *_vanishing_or_exploding(rows, weights), *_dead_units(rows),
            *_large_updates(weights)]


def _missing_gradients(rows):
    return [FlowWarning("no_gradient", f"{row['name']} gets no gradient: it took no part in the loss, "
                                       "or it does not require one.")
            for row in rows if row["grad_norm"] is None]


def _vanishing_or_exploding(rows, weights):
    flowing = [row for row in weights if row["grad_norm"] is not None]
    ratio, found = None, []
    if len(flowing) >= 2 and flowing[-1]["grad_norm"] > 0:
        first, last = flowing[0], flowing[-1]
        ratio = first["grad_norm"] / last["grad_norm"]
        if ratio < VANISHING_RATIO:
            found.append(FlowWarning("vanishing", f"Vanishing gradients: the first layer's weight "
                f"gradient ({first['name']}, |grad| = {first['grad_norm']:.3g}) is {ratio:.3g} times the "
                f"last layer's ({last['name']}, |grad| = {last['grad_norm']:.3g}), below the "
                f"{VANISHING_RATIO:g} threshold, so the early layers barely learn. Try ReLU-family "
                "activations instead of sigmoid or tanh, He or Xavier initialisation, normalisation "
                "layers, residual connections, or fewer layers."))
    largest = max((row for row in rows if row["grad_norm"] is not None), key=lambda row: row["grad_norm"])
    if (ratio is not None and ratio > EXPLODING_RATIO) or largest["grad_norm"] > EXPLODING_NORM:
        found.append(FlowWarning("exploding", f"Exploding gradients: the largest gradient norm is "
            f"{largest['grad_norm']:.3g} ({largest['name']})"
            + ("" if ratio is None else f" and the first layer's is {ratio:.3g} times the last layer's")
            + f" (thresholds: a norm above {EXPLODING_NORM:g}, a ratio above {EXPLODING_RATIO:g}). Try a "
            "smaller learning rate, gradient clipping, or a smaller initialisation scale."))
    return found


def _dead_units(rows):
    return [FlowWarning("dead_relu", f"Dead ReLUs: {row['dead_fraction']:.0%} of the units after "
                        f"{row['name']} never activate on this batch, so they pass no gradient back. "
                        "Try a smaller learning rate, He initialisation, or a leaky ReLU.")
            for row in rows if row["dead_fraction"] is not None and row["dead_fraction"] > DEAD_FRACTION]


def _large_updates(weights):
    return [FlowWarning("large_update", f"Large updates: a step changes {row['name']} by "
                        f"{row['update_ratio']:.3g} of its norm (above {UPDATE_RATIO:g}; about 1e-3 is "
                        "typical), so the learning rate is probably too high.")
            for row in weights if row["update_ratio"] is not None and row["update_ratio"] > UPDATE_RATIO]


def _dead_fractions(model, inputs, parameters):
    """``{weight name: fraction of dead units}`` for each ReLU in ``model(inputs)``."""
    if not callable(model):
        raise TypeError(f"gradient_flow(): inputs= needs a model that can be called, not "
                        f"{type(model).__name__}")
    weights = {p._node: name for name, p in parameters if p.ndim >= 2 and p._node is not None}
    outputs = []

    def keep_relu_output(prim, inputs, out, params):
        if prim.name == "relu":
            outputs.append(out)

    training = getattr(model, "training", None)
    if training is not None:
        model.eval()
    try:
        with enable_grad(), observing(on_forward=keep_relu_output):
            model(inputs)
    finally:
        if training is not None:
            model.train(training)
    fractions = {}
    for out in outputs:
        name = _nearest_weight(out._node, weights)
        if name is not None:
            units = _units(out.data)
            fractions[name] = float((~(units > 0).any(axis=0)).mean())
    return fractions


def _units(values):
    """Activations as (examples and positions, units): the last axis of a dense layer's output, the
    channel axis (1) of a convolution's ``(N, C, *spatial)`` output."""
    if values.ndim <= 2:
        return values.reshape(-1, values.shape[-1] if values.ndim else 1)
    return backend.xp.moveaxis(values, 1, -1).reshape(-1, values.shape[1])


def _nearest_weight(node, weights):
    """The name of the weight reached first going up the graph from ``node`` (breadth first)."""
    frontier, seen = [node], set()
    while frontier:
        for candidate in frontier:
            if candidate in weights:
                return weights[candidate]
        seen.update(frontier)
        frontier = [parent for candidate in frontier for parent in candidate.parents
                    if parent is not None and parent not in seen]
    return None
