"""PyTorch's habits beside NumPy's names: ``dim=`` for ``axis=``, ``keepdim=`` for ``keepdims=``,
``.to(dtype or device)``, and for a PyTorch name chainrule lacks, what to write instead.

Functions written in Python (``nn.functional``'s losses, Tensor methods) take NumPy's names; wrapping
them in :func:`pytorch_keywords` lets PyTorch users keep their habits, and turns any other unknown
keyword into a ``TypeError`` that names it and lists the accepted ones.

Example:
    >>> @pytorch_keywords
    ... def total(x, axis=None, keepdims=False):
    ...     return axis, keepdims
    >>> total(0, dim=1, keepdim=True)
    (1, True)
    >>> total(0, axes=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: total() got an unexpected keyword argument 'axes' (did you mean 'axis'?); it accepts x, ...
"""

import difflib
import sys
import functools
import inspect

from . import backend, devices
from .core.primitive import Primitive

ALIASES = {"dim": ("axis",), "keepdim": ("keepdims",), "dims": ("axes",), "start_dim": ("start_axis",),
           "end_dim": ("end_axis",), "correction": ("ddof",)}
"""PyTorch's keyword -> chainrule's (NumPy's) keywords it may stand for, the first one taken wins."""


def rename(where, params, accepted):
    """``params`` with PyTorch's names replaced by NumPy's.

    Args:
        where: the function's name, for messages.
        params: the keyword arguments given.
        accepted: the keyword names the function takes.

    Raises:
        TypeError: for a keyword neither accepted nor an alias of an accepted one, or for a keyword
            given under both its names.
    """
    renamed = {}
    for key, value in params.items():
        target = key if key in accepted else next((t for t in ALIASES.get(key, ()) if t in accepted), key)
        if target not in accepted:
            raise TypeError(unexpected_keyword(where, key, accepted))
        if target in renamed:
            raise TypeError(f"{where}() got {target!r} twice (as {key!r} and {target!r}); give one")
        renamed[target] = value
    return renamed


def unexpected_keyword(where, key, accepted):
    """The message for an unknown keyword ``key`` of ``where``: the closest name and the accepted ones."""
    names = list(accepted) + [alias for alias, targets in ALIASES.items() if set(targets) & set(accepted)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(_with_alias(name) for name in accepted) or "no keyword arguments"
    return f"{where}() got an unexpected keyword argument {key!r}{hint}; it accepts {listed}"


def _with_alias(name):
    aliases = [alias for alias, targets in ALIASES.items() if name in targets]
    return f"{name} (or {', '.join(aliases)})" if aliases else name


def pytorch_keywords(function):
    """Let ``function`` take ``dim=``/``keepdim=`` for its ``axis``/``keepdims`` parameters, and give
    an unknown keyword a ``TypeError`` listing the accepted ones."""
    accepted = tuple(name for name, p in inspect.signature(function).parameters.items()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self")
    where, known = function.__qualname__, frozenset(accepted)

    @functools.wraps(function)
    def call(*args, **params):
        if params and not known.issuperset(params):
            params = rename(where, params, accepted)
        return function(*args, **params)
    return call


DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla")
"""PyTorch's device names, recognised so that ``.to("cuda")`` gets a clear answer."""


def to_arguments(args, dtype, device, where):
    """The dtype and the :class:`~chainrule.devices.Device` asked for by PyTorch-style ``.to(...)``
    arguments (each ``None`` when not named): ``to("float64")``, ``to("cuda")``, ``to("cpu",
    "float32")``, ``to(dtype=...)``, ``to(device=...)``, ``to(torch.device("cpu"))``. An unknown device
    is a ValueError; a CUDA device on a machine without one, a DeviceError saying why."""
    if len(args) > 2:
        raise TypeError(f"{where}() takes at most a device and a dtype, got {len(args)} arguments")
    for arg in args:
        if _is_device(arg):
            device = arg if device is None else _twice(where, "device")
        else:
            dtype = arg if dtype is None else _twice(where, "dtype")
    if device is not None:
        device = devices.device(device, where)
    if dtype is None:
        return None, device
    try:
        return backend.xp.dtype(dtype), device
    except TypeError:
        raise TypeError(f"{where}(): {dtype!r} is neither a dtype (such as 'float32') nor a device "
                        f"('cpu', 'cuda')") from None


def _is_device(arg):
    if hasattr(arg, "type") and not hasattr(arg, "kind"):  # a torch.device, not a NumPy dtype
        return True
    return isinstance(arg, str) and (arg.split(":")[0] in DEVICE_TYPES or devices.is_type(arg.split(":")[0]))


def _twice(where, what):
    raise TypeError(f"{where}() got two {what}s")


INSTEAD = {
    "repeat": "chainrule.tile(x, sizes): PyTorch's repeat is NumPy's tile (chainrule.repeat repeats "
              "each element)",
    "masked_fill": "chainrule.where(mask, value, x)",
    "chunk": "chainrule.array_split(x, chunks, axis)",
    "split": "chainrule.split(x, indices_or_sections, axis): NumPy's split takes the number of pieces "
             "or the indices to split at, not PyTorch's piece size",
    "type": "x.to(dtype) or x.astype(dtype)",
    "int": "x.astype('int32')",
    "bool": "x.astype(bool)",
    "all": "bool(x.numpy().all())",
    "any": "bool(x.numpy().any())",
    "copy_": "x.data[...] = source (under chainrule.no_grad() for a parameter)",
    "new_zeros": "chainrule.zeros(shape, dtype=x.dtype)",
    "new_ones": "chainrule.ones(shape, dtype=x.dtype)",
    "new_tensor": "chainrule.tensor(data, dtype=x.dtype)",
    "detach_": "y = x.detach()",
    "unbind": "list(x) (rows), or [x[:, i] for i in range(n)]",
    "nonzero": "x.numpy().nonzero()",
    "nbytes": "x.data.nbytes",
    **{name: f"the operator: x {op} y" for name, op in (("eq", "=="), ("ne", "!="), ("lt", "<"),
                                                         ("le", "<="), ("gt", ">"), ("ge", ">="))},
    **{name + "_": f"x {op}= y, under chainrule.no_grad() for a parameter"
       for name, op in (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/"))},
}
"""What to write instead of a PyTorch tensor method that chainrule's Tensor does not have."""


PUBLIC = {}
"""chainrule's namespace (the package's ``globals()``), given here by ``chainrule/__init__``, so that a
hint can name ``chainrule.<name>`` without this module importing the package above it."""


def missing_attribute(owner, name, cls=None):
    """The message for ``owner`` (an instance of ``cls``) lacking ``name``: what to write instead, for a
    PyTorch habit."""
    message = f"{owner!r} object has no attribute {name!r}"
    if name in INSTEAD:
        return f"{message}; write {INSTEAD[name]}"
    if name.endswith("_") and callable(getattr(cls, name[:-1], None)):  # PyTorch's in-place variants
        return f"{message}; write x = x.{name[:-1]}(...), a new tensor"
    if callable(PUBLIC.get(name)):  # not getattr: chainrule's own __getattr__ searches for hints
        return f"{message}; write chainrule.{name}(x, ...)"
    return message


def _primitive_keywords(prim, params):
    """``params`` with PyTorch's ``dim=``/``keepdim=`` renamed ``axis=``/``keepdims=``; a ``TypeError``
    naming any other keyword the forward does not take, and the accepted ones."""
    if prim.accepted.issuperset(params):
        return params
    return rename(prim.name, params, prim.param_names)


Primitive.keywords = _primitive_keywords  # every primitive takes PyTorch's spellings (see Primitive.__call__)


def accept_pytorch_keywords(namespace):
    """Wrap with :func:`pytorch_keywords` every public function of ``namespace`` (a module's dict) that
    takes an axis and does not yet accept PyTorch's names; primitives accept them already."""
    for name, function in list(namespace.items()):
        if name.startswith("_") or not inspect.isfunction(function) or hasattr(function, "__wrapped__"):
            continue
        named = [p.name for p in inspect.signature(function).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if any(target in named for targets in ALIASES.values() for target in targets):
            namespace[name] = pytorch_keywords(function)


MODULE_INSTEAD = {
    "autograd": "chainrule.grad(f)(x) for a gradient function, or y.backward() and x.grad",
    "Size": "a tuple: x.shape and x.size() are tuples",
    "set_grad_enabled": "chainrule.no_grad() or chainrule.enable_grad()",
    "inference_mode": "chainrule.no_grad()",
}
"""What to write instead of a ``torch.`` name that chainrule's namespace lacks."""


def module_getattr(namespace, name, instead=MODULE_INSTEAD):
    """``AttributeError`` for the module whose globals are ``namespace`` lacking ``name``, saying what to
    write (from ``instead``) for a PyTorch name, or the closest names the module has."""
    if name.startswith("__"):
        raise AttributeError(name)
    message = f"module {namespace['__name__']!r} has no attribute {name!r}"
    if name in instead:
        raise AttributeError(f"{message}; write {instead[name]}")
    close = difflib.get_close_matches(name, [key for key in namespace if not key.startswith("_")], n=3)
    if not close:
        raise AttributeError(message, name=name)
    # Without a name, Python's traceback adds no "Did you mean" of its own after this one.
    raise AttributeError(f"{message}; did you mean {', '.join(close)}?", name=None,
                         obj=sys.modules.get(namespace["__name__"]))
