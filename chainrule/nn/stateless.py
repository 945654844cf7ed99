"""Calling a module with other parameters: the bridge from layers to functional transforms.

``functional_call(model, params, x)`` runs ``model(x)`` with its parameters (and buffers) looked up in
``params`` instead, as ``torch.func.functional_call`` does, so that ``grad``, ``vmap`` and the Jacobians
can treat them as an argument::

    params = dict(model.named_parameters())
    def loss(params, x, y):                       # one example
        return cross_entropy(functional_call(model, params, x[None]), y[None])
    per_example = vmap(grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
"""

from .module import Module


def functional_call(module, parameters_and_buffers, args=(), kwargs=None):
    """``module(*args, **kwargs)`` with the named tensors of ``parameters_and_buffers`` (dotted names, as
    ``state_dict`` gives them) in place of its own, restored afterwards even on an error.

    Args:
        module: the model.
        parameters_and_buffers: a dict from names (``"0.weight"``) to tensors; names it leaves out keep
            the module's own values. A tuple of dicts is merged, as PyTorch's.
        args: the positional arguments (a tuple, or a single tensor).
        kwargs: the keyword arguments.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Linear(2, 1)
        >>> params = {"weight": cr.tensor([[1.0, 2.0]]), "bias": cr.tensor([0.5])}
        >>> functional_call(model, params, cr.tensor([1.0, 1.0])).tolist()
        [3.5]
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be a chainrule.nn.Module, not {type(module).__name__}")
    if isinstance(parameters_and_buffers, (tuple, list)):
        merged = {}
        for part in parameters_and_buffers:
            merged.update(part)
        parameters_and_buffers = merged
    args = args if isinstance(args, tuple) else (args,)
    swapped = []
    try:
        for name, value in parameters_and_buffers.items():
            owner, _, leaf = name.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            store = _store(target, leaf, name, module)
            swapped.append((store, leaf, store[leaf]))
            store[leaf] = value
        return module(*args, **(kwargs or {}))
    finally:
        for store, leaf, original in reversed(swapped):
            store[leaf] = original


def _store(target, leaf, name, module):
    for store in (target._parameters, target._buffers):
        if leaf in store:
            return store
    known = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
    raise KeyError(f"functional_call: {type(module).__name__} has no parameter or buffer {name!r}; it has "
                   f"{known}")
