"""Pictures of the computational graph: one box per operation, its shape and its gradient's norm.

Data flows down the picture, from the leaves (parameters, inputs, constants) to the output; a backward
pass runs up it, and after one every operation shows ``|g|``, the norm of the cotangent of its output,
and every edge the norm of the cotangent it carried back to its input.
"""

import contextlib
import inspect as pyinspect
import os

import graphviz

from ..core.graph import Leaf, toposort
from ..core.tensor import Tensor
from ..errors import GraphError
from ._format import format_number
from ._observers import observing
from ._values import array_of, norm, shape_of

INSTALL_HELP = (
    "Drawing the graph needs Graphviz's `dot` program, which is not on the PATH. Install it "
    "(Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: `brew install graphviz`; conda: "
    "`conda install -c conda-forge graphviz`), or use the DOT source, always available as `g.source` "
    "and written by `g.save('graph.dot')`.")

_STYLES = {
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#cfe2f3"},
    "leaf": {"shape": "box", "style": "filled", "fillcolor": "#d9ead3"},
    "constant": {"shape": "box", "style": "dashed", "color": "#888888", "fontcolor": "#555555"},
    "operation": {"shape": "box", "style": "rounded"},
    "output": {"shape": "box", "style": "rounded,bold"},
}


class GraphvizNotInstalled(graphviz.ExecutableNotFound):
    """Graphviz's ``dot`` program is missing; the message says how to install it."""

    def __init__(self):
        RuntimeError.__init__(self, INSTALL_HELP)


class Graph(graphviz.Digraph):
    """A :class:`graphviz.Digraph` that explains how to install Graphviz when rendering without it.

    Render with ``g.render(outfile="graph.png")`` (or ``.svg``, ``.pdf``); ``g.source`` is the DOT text.
    """

    def render(self, *args, **kwargs):
        with _explaining_missing_dot():
            return super().render(*args, **kwargs)

    def pipe(self, *args, **kwargs):
        with _explaining_missing_dot():
            return super().pipe(*args, **kwargs)


@contextlib.contextmanager
def _explaining_missing_dot():
    try:
        yield
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotInstalled() from error


def graph(target, *args, model=None, params=None, backward=None):
    r"""The computational graph behind a tensor, or recorded by calling a function.

    Args:
        target: a tensor that requires a gradient (its graph must not have been freed by a backward
            pass yet, or shapes and constants are missing), or a function called as ``target(*args)``
            that returns one.
        *args: the function's arguments, passed as they are: tensors with ``requires_grad=True`` (and
            the model's parameters) become leaves, the rest constants. Leaves and constants are
            labelled by the function's parameter names.
        model: a model with ``named_parameters()``; its parameters are labelled by their names.
        params: more names, a mapping from name to tensor.
        backward: run ``backward()`` on the output (accumulating into ``.grad`` as usual) and show the
            gradient norms. Default: yes for a function whose output has one element, no for a tensor.

    Returns:
        A :class:`Graph` (a :class:`graphviz.Digraph`).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.inspect import graph
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> g = graph(lambda w: (w * w).sum(), w)
        >>> print(g.source)  # doctest: +ELLIPSIS
        digraph {
        ...
            n0 [label="w\n(2,)\n|grad| = 4.472" ...]
            n1 [label="mul\n(2,)\n|g| = 1.414\n<doctest ...>:1" ...]
            n2 [label="sum\n()\n|g| = 1\n<doctest ...>:1" ...]
            n0 -> n1 [label=" 2.236"]
            n0 -> n1 [label=" 2.236"]
            n1 -> n2 [label=" 1.414"]
        }
        <BLANKLINE>
    """
    names = _names(model, params)
    if isinstance(target, Tensor):
        if args:
            raise TypeError("graph(): extra arguments are only for a function target, not for a tensor")
        output, what = target, "the tensor"
    elif callable(target):
        names.update(_argument_names(target, args))
        with observing(record_site=True):
            output = target(*args)
        what = "the function's output"
    else:
        raise TypeError(f"graph(): target must be a tensor or a function, not {type(target).__name__}")
    if not isinstance(output, Tensor) or output._node is None:
        raise GraphError(f"graph(): {what} has no recorded graph: nothing it depends on requires a "
                         "gradient. Pass tensors created with requires_grad=True, or a model whose "
                         "parameters require gradients.")
    if backward is None:
        backward = output is not target and output.size == 1
    drawing = _Drawing(names)
    drawing.add_graph(toposort([output._node]), output._node)
    if backward:
        gradients = _GradientNorms()
        with observing(on_vjp=gradients.on_vjp):
            output.backward()
        drawing.add_gradients(gradients)
    return drawing.finish()


def _names(model, params):
    """A map from ``id(tensor)`` to its name."""
    names = {}
    if model is not None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"graph(): model must have named_parameters(), got {type(model).__name__}")
        names.update((id(p), name) for name, p in model.named_parameters())
    if params is not None:
        names.update((id(p), name) for name, p in dict(params).items())
    return names


def _argument_names(function, args):
    try:
        bound = pyinspect.signature(function).bind(*args)
    except (TypeError, ValueError):
        return {}
    return {id(value): name for name, value in bound.arguments.items() if hasattr(value, "shape")}


class _GradientNorms:
    """Collects, during a backward pass, the norm of each node's cotangent and of each edge's."""

    def __init__(self):
        self.of_node, self.of_edge, self.leaf_sums = {}, {}, {}

    def on_vjp(self, node, argnum, g, g_input, summed_axes):
        if node not in self.of_node:
            self.of_node[node] = norm(g)
        self.of_edge[node, argnum] = norm(g_input)
        parent = node.parents[argnum]
        if type(parent) is Leaf:
            total = self.leaf_sums.get(parent)
            self.leaf_sums[parent] = array_of(g_input) if total is None else total + array_of(g_input)


class _Drawing:
    """Builds the DOT picture: ids for nodes and constants, labels, styles, edges."""

    def __init__(self, names):
        self.names = names
        self.ids = {}
        self.kinds = {}
        self.labels = {}
        self.edges = []
        self.edge_labels = {}
        self.output = None

    def add_graph(self, order, output):
        self.output = output
        for node in reversed(order):
            if type(node) is Leaf:
                self._add_leaf(node)
                continue
            self._add_operation(node)
            for argnum, parent in enumerate(node.parents):
                if parent is not None:
                    self.edges.append((self.ids[parent], self.ids[node], (node, argnum)))
                elif node.inputs is not None and node.inputs[argnum] is not None:  # None: an absent option
                    self.edges.append((self._add_constant(node, argnum), self.ids[node], None))

    def add_gradients(self, gradients):
        for key, lines in self.labels.items():
            if key in gradients.of_node:
                lines.insert(2, f"|g| = {format_number(gradients.of_node[key])}")
            elif key in gradients.leaf_sums:
                lines.append(f"|grad| = {format_number(norm(gradients.leaf_sums[key]))}")
        self.edge_labels = {key: " " + format_number(value) for key, value in gradients.of_edge.items()}

    def finish(self):
        picture = Graph(graph_attr={"rankdir": "TB"}, node_attr={"fontname": "Helvetica", "fontsize": "10"},
                        edge_attr={"fontname": "Helvetica", "fontsize": "9", "fontcolor": "#b45f06"})
        for key, node_id in self.ids.items():
            picture.node(node_id, label="\\n".join(self.labels[key]), **_STYLES[self.kinds[key]])
        for tail, head, key in self.edges:
            label = self.edge_labels.get(key)
            picture.edge(tail, head, **({"label": label} if label else {}))
        return picture

    def _new_id(self, key, kind):
        self.ids[key] = f"n{len(self.ids)}"
        self.kinds[key] = kind

    def _add_leaf(self, leaf):
        tensor = leaf.tensor_ref()
        name = None if tensor is None else self.names.get(id(tensor), tensor.name)
        kind = "parameter" if tensor is not None and id(tensor) in self.names else "leaf"
        self._new_id(leaf, kind)
        self.labels[leaf] = [name or "leaf", str(shape_of(tensor)) if tensor is not None else "?"]

    def _add_operation(self, node):
        self._new_id(node, "output" if node is self.output else "operation")
        lines = [node.prim.name, "?" if node.ans is None else str(shape_of(node.ans))]
        if node.site is not None and _is_source_file(node.site[0]):
            lines.append(f"{os.path.basename(node.site[0])}:{node.site[1]}")
        self.labels[node] = lines

    def _add_constant(self, node, argnum):
        value = node.inputs[argnum]
        key = id(value) if isinstance(value, Tensor) else (node, argnum)
        if key not in self.ids:
            self._new_id(key, "constant")
            self.labels[key] = self._constant_lines(value)
        return self.ids[key]

    def _constant_lines(self, value):
        if isinstance(value, Tensor) or shape_of(value):
            name = self.names.get(id(value), getattr(value, "name", None))
            return [name or "constant", str(shape_of(value))]
        return [format_number(float(array_of(value)))]


def _is_source_file(filename):
    """Whether a recorded site is the user's own code (a source file, a notebook cell, a doctest),
    not the interpreter's machinery (``<frozen runpy>``) or a console-script launcher
    (``bin/chainrule``), which is all a command such as ``chainrule graph`` has outside chainrule."""
    if filename.startswith("<"):  # <doctest ...>, <ipython-input-...>, <stdin>: typed by the user
        return not filename.startswith("<frozen")
    return filename.endswith(".py") and os.path.basename(filename) != "runpy.py"
