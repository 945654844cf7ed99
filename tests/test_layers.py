"""The package's import graph, read from the source (module-level and function-level imports alike):
no import circle, and no module importing from a layer above its own (README, "How the engine works")."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

LAYERS = [
    # nn/rng.py is a leaf (NumPy only) that the operations (dropout masks) and creation draw from too.
    # compile/c_backend.py (builds C with the system compiler; stdlib only) serves the compiled step's
    # kernels and the convolutions' im2col loops (ops/conv_kernels.py) alike.
    ("base", ["chainrule.backend", "chainrule.errors", "chainrule.validation", "chainrule.providers",
              "chainrule.nn.rng", "chainrule.devices", "chainrule.fake_device",
              "chainrule.compile.c_backend"]),
    ("core", ["chainrule.core"]),
    ("ops", ["chainrule.ops", "chainrule.pytorch_compat"]),
    ("facades and transforms", ["chainrule.numpy", "chainrule.linalg", "chainrule.transforms", "chainrule.vectorize",
                                "chainrule.tree", "chainrule.testing", "chainrule.coverage",
                                "chainrule.serialization", "chainrule.creation"]),
    ("nn", ["chainrule.nn"]),
    ("optim and data", ["chainrule.optim", "chainrule.data"]),
    ("programs", ["chainrule.compile", "chainrule.inspect", "chainrule.distributed", "chainrule.train",
                  "chainrule.experiments", "chainrule.word2vec", "chainrule"]),
    ("benchmarks", ["benchmarks"]),
    ("command line", ["chainrule.cli", "chainrule.__main__"]),
]
"""Lowest first: a module may import from its own layer and those below, never from above. The longest
matching prefix places a module (``chainrule.core.tensor`` is in ``core``; ``chainrule`` alone is the
package's ``__init__``, which gathers the public names)."""

PENDING = set()
"""Known upward edges, ``(importer, imported)``, being removed; a test fails once one is gone, so the
list only shrinks."""


def _modules():
    modules = {}
    for package in ("chainrule", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(name, path, modules):
    """The package's modules that ``name`` imports anywhere in its source (the innermost module an
    import names: ``from .core import tensor`` is ``chainrule.core.tensor``)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(name):
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, f"{name} is in no layer: add it to LAYERS"
    return rank


def _circles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle():
    assert _circles(_graph()) == []


def _upward(graph):
    return {(importer, imported) for importer, targets in graph.items() for imported in targets
            if _layer(imported) > _layer(importer)}


def test_no_import_from_a_higher_layer():
    assert sorted(_upward(_graph()) - PENDING) == []


def test_the_pending_upward_imports_are_still_there():
    assert sorted(PENDING - _upward(_graph())) == [], "gone: remove them from PENDING"


def test_the_graph_sees_function_level_imports_and_circles():
    graph = _graph()
    # ops/attention.py imports nn/rng.py inside scaled_dot_product_attention (for dropout's generator).
    assert "chainrule.nn.rng" in graph["chainrule.ops.attention"]
    assert "chainrule.core.tensor" in graph["chainrule.core.dispatch"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _layer("chainrule.core.tensor") < _layer("chainrule.ops.conv") < _layer("chainrule.nn.conv")
