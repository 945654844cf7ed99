"""Traces: every differentiation rule the engine applies, in the order it applies them.

Inside ``with trace() as t:`` each VJP rule of a backward pass and each JVP rule of a forward-mode pass
adds a record: the primitive, the mode, the input it differentiates with respect to, the user's source
line (for a VJP, the line whose forward pass created the node; for a JVP, the line running now), the
shapes, the axes that broadcasting stretched in the forward pass (summed back in the backward pass), and
the norms of the vector the rule received and of the one it returned.
"""

import json

from .. import backend
from ..errors import user_site
from ..core.reverse import broadcast_axes
from ._format import format_number, format_site, format_table
from ._observers import observing
from ._values import norm, shape_of

_PARAM_WIDTH = 24


def trace():
    """Record every rule applied inside the ``with`` block.

    Returns:
        A :class:`Trace`, the context manager itself.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.inspect import trace
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with trace() as t:
        ...     y = (x * x).sum()
        ...     y.backward()
        >>> [(r["mode"], r["primitive"], r["argnum"], r["returned_norm"]) for r in t.records()]
        [('VJP', 'sum', 0, 1.4142), ('VJP', 'mul', 0, 2.2361), ('VJP', 'mul', 1, 2.2361)]
    """
    return Trace()


class Trace:
    """The rules applied inside a ``with`` block, in order; see :func:`trace`.

    Each record is a dict with the keys ``step``, ``mode`` (``"VJP"`` or ``"JVP"``), ``primitive``,
    ``params`` (the primitive's parameters, as text), ``argnum`` (the input differentiated), ``file``,
    ``line`` and ``code`` (the user's source line, ``None`` when the node was created outside the
    trace), ``input_shapes``, ``output_shape``, ``broadcast_axes`` (axes of the output along which the
    forward pass broadcast this input: a VJP sums its cotangent over them), ``received_norm`` (norm of the
    output's cotangent for a VJP, of the input's tangent for a JVP) and ``returned_norm`` (norm of the
    input's cotangent after the sum over broadcast axes, or of the output's tangent).
    """

    def __init__(self):
        self._records = []
        self._observing = None

    def __enter__(self):
        self._observing = observing(on_vjp=self._on_vjp, on_jvp=self._on_jvp, record_site=True)
        self._observing.__enter__()
        return self

    def __exit__(self, *exc_info):
        self._observing.__exit__(*exc_info)
        self._observing = None
        return False

    def __len__(self):
        return len(self._records)

    def records(self):
        """The records as a list of dicts (copies), in the order the rules ran."""
        return [dict(record) for record in self._records]

    def to_json(self, path=None):
        """The records as JSON text, also written to ``path`` when one is given."""
        text = json.dumps(self._records, indent=1)
        if path is not None:
            with open(path, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        return text

    def __str__(self):
        headers = ["#", "mode", "rule", "arg", "shapes", "broadcast", "|received|", "|returned|",
                   "source"]
        rows = [[str(r["step"]), r["mode"], _rule_text(r), str(r["argnum"]),
                 f"{', '.join(map(str, r['input_shapes']))} -> {r['output_shape']}",
                 str(r["broadcast_axes"]) if r["broadcast_axes"] else "-",
                 format_number(r["received_norm"]), format_number(r["returned_norm"]),
                 format_site(None if r["file"] is None else (r["file"], r["line"], r["code"]))]
                for r in self._records]
        return format_table(headers, rows)

    def __repr__(self):
        return f"<Trace of {len(self._records)} rules>"

    def _on_vjp(self, node, argnum, g, g_input, summed_axes):
        self._add("VJP", node.prim, argnum, node.site, [shape_of(x) for x in node.inputs],
                  shape_of(node.ans), node.params, summed_axes, norm(g), norm(g_input))

    def _on_jvp(self, prim, argnum, tangent, tangent_out, inputs, params):
        shapes = [shape_of(x) for x in inputs]
        output_shape = shape_of(tangent_out)
        self._add("JVP", prim, argnum, user_site(), shapes, output_shape, params,
                  _forward_broadcast(shapes, argnum, output_shape), norm(tangent), norm(tangent_out))

    def _add(self, mode, prim, argnum, site, input_shapes, output_shape, params, axes, received,
             returned):
        file, line, code = site if site is not None else (None, None, None)
        self._records.append({
            "step": len(self._records), "mode": mode, "primitive": prim.name,
            "params": {key: _short_repr(value) for key, value in params.items()},
            "argnum": argnum, "file": file, "line": line, "code": code,
            "input_shapes": input_shapes, "output_shape": output_shape,
            "broadcast_axes": tuple(axes), "received_norm": received, "returned_norm": returned})


def _forward_broadcast(shapes, argnum, output_shape):
    """Axes along which an elementwise primitive broadcast input ``argnum`` to the output; none for
    primitives whose output is not the inputs' broadcast shape (reductions, matmul, reshapes)."""
    try:
        elementwise = backend.xp.broadcast_shapes(*shapes) == output_shape
    except ValueError:
        return ()
    return broadcast_axes(output_shape, shapes[argnum]) if elementwise else ()


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= _PARAM_WIDTH else text[:_PARAM_WIDTH - 3] + "..."


def _rule_text(record):
    settings = ", ".join(f"{key}={value}" for key, value in record["params"].items()
                         if value not in ("None", "False"))
    return f"{record['primitive']}({settings})" if settings else record["primitive"]
