"""One step of backpropagation, frame by frame: for one test example of a small MLP run, the value each
operation computes in the forward pass, then the cotangent each VJP rule receives and returns, node by
node, in the order the engine's backward walk applies them (the lecture's credit assignment).

The frames come from the engine's own hooks (:mod:`chainrule.inspect._observers`): nothing is
re-derived here, the page shows what ``loss.backward()`` did.
"""

import graphviz
import numpy as np

from ..core.graph import Leaf, enable_grad, toposort
from ..core.tensor import Tensor
from ..inspect import GraphvizNotInstalled
from ..inspect._observers import observing
from .loading import NotAvailable, example, load

MAX_VALUES = 1024
MAX_PARAMETERS = 500_000
BACKPROP_KINDS = ("mlp",)


def backprop_step(run, index=0):
    """The graph of test example ``index``'s loss (as SVG, its nodes titled by the frames' ids) and
    the frames: ``"forward"`` ones (a node and its value), then ``"backward"`` ones (a node, the input
    it differentiates, the cotangent of its output and the one it passes to that input)."""
    loaded = load(run)
    model = loaded.model
    count = sum(p.size for p in model.parameters())
    if loaded.kind not in BACKPROP_KINDS or count > MAX_PARAMETERS:
        raise NotAvailable(f"one step of backpropagation is shown for MLP runs of at most "
                           f"{MAX_PARAMETERS:,} parameters (this is a {loaded.kind} of {count:,})")
    x, y = example(loaded, index)
    inputs, targets = Tensor(x), Tensor(y)
    values, arguments = {}, {}

    def keep_value(prim, args, out, params):
        if out._node is not None:
            values[out._node] = out.data
            arguments[out._node] = [id(arg) for arg in args]

    with enable_grad(), observing(on_forward=keep_value):
        loss = loaded.loss(model(inputs), targets)
    drawing = _Drawing(model, {id(inputs): "x (the example)", id(targets): "y (its label)"})
    order = list(reversed(toposort([loss._node])))
    drawing.add(order, arguments)
    frames = [{"kind": "forward", "node": drawing.ids[node], "label": node.prim.name,
               "value": summary(values[node])} for node in order if type(node) is not Leaf]
    parameters = list(model.parameters())
    for parameter in parameters:
        parameter.grad = None

    def keep_cotangents(node, argnum, g, g_input, summed_axes):
        parent = node.parents[argnum]
        frames.append({"kind": "backward", "node": drawing.ids[node], "label": node.prim.name,
                       "to": drawing.ids.get(parent), "argnum": argnum, "received": summary(g),
                       "returned": summary(g_input), "summed_axes": list(summed_axes)})

    with observing(on_vjp=keep_cotangents):
        loss.backward()
    for parameter in parameters:
        parameter.grad = None
    svg, message = drawing.svg()
    return {"index": index, "label": int(np.asarray(y).ravel()[0]), "loss": float(loss.item()),
            "svg": svg, "message": message, "frames": frames}


def summary(value):
    """An array as the page shows it: shape, norm, range, and its first :data:`MAX_VALUES` values."""
    array = np.asarray(getattr(value, "data", value), dtype=np.float64)
    flat = array.ravel()
    return {"shape": list(array.shape), "norm": float(np.linalg.norm(flat)),
            "min": float(flat.min()) if flat.size else 0.0, "max": float(flat.max()) if flat.size else 0.0,
            "values": np.round(flat[:MAX_VALUES], 5).tolist(), "cut": flat.size > MAX_VALUES}


class _Drawing:
    """The graph with stable ids: parameters by the model's names, inputs by theirs."""

    def __init__(self, model, names):
        self.names = {id(p): name for name, p in model.named_parameters()} | names
        self.ids, self.dot = {}, graphviz.Digraph(graph_attr={"rankdir": "TB"},
                                                  node_attr={"fontname": "Helvetica", "fontsize": "10"})

    def add(self, order, arguments):
        for node in order:
            node_id = self.ids[node] = f"n{len(self.ids)}"
            if type(node) is Leaf:
                tensor = node.tensor_ref()
                name = self.names.get(id(tensor), "leaf") if tensor is not None else "leaf"
                self.dot.node(node_id, f"{name}\n{tuple(tensor.shape) if tensor is not None else ''}",
                              shape="box", style="filled", fillcolor="#cfe2f3")
                continue
            self.dot.node(node_id, node.prim.name, shape="box", style="rounded")
            for argnum, parent in enumerate(node.parents):
                if parent is not None:
                    self.dot.edge(self.ids[parent], node_id)
                elif arguments[node][argnum] in self.names:  # the example and its label
                    constant = f"c{arguments[node][argnum]}"
                    self.dot.node(constant, self.names[arguments[node][argnum]], shape="box",
                                  style="filled", fillcolor="#d9ead3")
                    self.dot.edge(constant, node_id)

    def svg(self):
        try:
            text = self.dot.pipe(format="svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            return None, str(GraphvizNotInstalled())
        return text[text.index("<svg"):], None
