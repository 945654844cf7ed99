"""Pytrees: nested tuples, lists and dicts whose leaves are tensors, arrays or numbers."""


def tree_flatten(tree):
    """The leaves of ``tree`` in order, and a description to rebuild it with :func:`tree_unflatten`."""
    leaves = []

    def visit(node):
        if isinstance(node, (tuple, list)):
            return type(node), [visit(child) for child in node]
        if isinstance(node, dict):
            return dict, {key: visit(node[key]) for key in node}
        if node is None:
            return None, None
        leaves.append(node)
        return "leaf", None

    return leaves, visit(tree)


def tree_unflatten(treedef, leaves):
    """Rebuild a tree of the shape ``treedef`` with the given leaves."""
    remaining = iter(leaves)

    def build(definition):
        kind, children = definition
        if kind == "leaf":
            return next(remaining)
        if kind is None:
            return None
        if kind is dict:
            return {key: build(child) for key, child in children.items()}
        return kind(build(child) for child in children)

    return build(treedef)


def tree_map(function, tree, *rest):
    """Apply ``function`` to the leaves of ``tree`` (and the matching leaves of ``rest``)."""
    leaves, treedef = tree_flatten(tree)
    others = [tree_flatten(other)[0] for other in rest]
    return tree_unflatten(treedef, [function(*args) for args in zip(leaves, *others, strict=True)])
