"""Modules: objects that own parameters, buffers and submodules, found automatically as in PyTorch.

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it; a module's
``state_dict()`` names every parameter and buffer by its dotted path (``"0.weight"``).

Example:
    >>> import chainrule as cr
    >>> from chainrule.nn import Linear, ReLU, Sequential
    >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> model(cr.ones(3, 4)).shape
    (3, 2)
"""

from typing import NamedTuple

from .. import backend, devices
from ..core.graph import hooks, replayable
from ..core.tensor import Tensor, numeric_array, unwrap
from ..errors import CheckpointError
from ..pytorch_compat import to_arguments


_ABSENT = object()


class Parameter(Tensor):
    """A tensor registered as a trainable weight when assigned to a :class:`Module`'s attribute.

    Args:
        data: the initial values (array, list, tensor).
        requires_grad: whether optimisers train it.
        dtype: the dtype, float32 by default; ``None`` keeps the dtype of ``data``.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype="float32"):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        # Copies and pickles become fresh leaves: the link to the graph (a weak reference) cannot
        # travel, and a copied link would send the copy's gradients to the original.
        return Parameter, (self.data, self.requires_grad, None)


class LoadResult(NamedTuple):
    """What :meth:`Module.load_state_dict` could not match (both empty after a strict load)."""
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign parameters and submodules as attributes, and
    define ``forward``; calling the module calls ``forward``.

    Attributes:
        training: ``True`` in training mode (dropout active, batch statistics), ``False`` after
            :meth:`eval`.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------------------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() ran: call "
                                 f"super().__init__() first in {type(self).__name__}.__init__")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._parameters and value is not None:
            raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                            f"{type(self).__name__}: assign a Parameter (or None to remove it)")
        elif name in self._buffers and value is not None:
            self._buffers[name] = value if isinstance(value, Tensor) else Tensor(value)
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        stores = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in stores and name in stores[store]:
                return stores[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if not self._forget(name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _forget(self, name):
        """Remove ``name`` wherever it is registered; whether it was."""
        stores = (self._parameters, self._buffers, self._modules, self.__dict__)
        return any([store.pop(name, _ABSENT) is not _ABSENT for store in stores])

    def register_buffer(self, name, value):
        """Register a tensor that is part of the state but not trained (BatchNorm's running mean).

        Buffers appear in :meth:`state_dict` and are read back by :meth:`load_state_dict`.
        """
        _check_name(name, "buffer")
        self._forget(name)
        self._buffers[name] = value if isinstance(value, Tensor) else Tensor(value)

    def register_parameter(self, name, parameter):
        """Register ``parameter`` (a :class:`Parameter`, or ``None``) under ``name``, as assigning it does."""
        _check_name(name, "parameter")
        if parameter is not None and not isinstance(parameter, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, not "
                            f"{type(parameter).__name__}")
        self._forget(name)
        if parameter is None:
            object.__setattr__(self, name, None)
        else:
            self._parameters[name] = parameter

    def add_module(self, name, module):
        """Register ``module`` as the submodule ``name``, as assigning it does."""
        _check_name(name, "module")
        setattr(self, name, check_module(module, f"add_module: {name!r}"))

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` (``""`` for this module)."""
        modules = dict(self.named_modules())
        if target not in modules:
            raise AttributeError(f"{type(self).__name__} has no submodule {target!r}; it has "
                                 f"{', '.join(repr(name) for name in modules if name) or 'none'}")
        return modules[target]

    # -- traversal --------------------------------------------------------------------------------

    def named_modules(self, prefix=""):
        """``(dotted name, module)`` for this module (name ``prefix``) and every submodule, once each."""
        seen = set()

        def visit(module, name):
            if id(module) in seen:
                return
            seen.add(id(module))
            yield name, module
            for child_name, child in module._modules.items():
                yield from visit(child, _join(name, child_name))

        yield from visit(self, prefix)

    def modules(self):
        """This module and every submodule."""
        return (module for _, module in self.named_modules())

    def named_children(self):
        """``(name, module)`` for the direct submodules."""
        return iter(self._modules.items())

    def children(self):
        """The direct submodules."""
        return iter(self._modules.values())

    def named_parameters(self, prefix="", recurse=True):
        """``(dotted name, parameter)`` pairs; a parameter shared by two modules comes once."""
        yield from self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every parameter, once each: what an optimiser trains."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        """``(dotted name, buffer)`` pairs."""
        yield from self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer, once each."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    def _named(self, store, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, tensor in getattr(module, store).items():
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    yield _join(module_name, name), tensor

    def apply(self, function):
        """Call ``function(module)`` on every submodule and then on this module; return ``self``."""
        for child in self.children():
            child.apply(function)
        function(self)
        return self

    # -- state ------------------------------------------------------------------------------------

    def _state_items(self, prefix=""):
        """Every parameter and buffer under its full name (a shared one under each of its names)."""
        for name, tensor in (*self._parameters.items(), *self._buffers.items()):
            yield _join(prefix, name), tensor
        for name, child in self._modules.items():
            yield from child._state_items(_join(prefix, name))

    def state_dict(self):
        """Copies of every parameter and buffer, as NumPy arrays keyed by dotted name.

        Example:
            >>> from chainrule.nn import BatchNorm1d
            >>> list(BatchNorm1d(3).state_dict())
            ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        return {name: tensor.data.copy() for name, tensor in self._state_items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (arrays or tensors by dotted name) into this module.

        Nothing is changed unless every entry fits.

        Args:
            state_dict: a mapping like the one :meth:`state_dict` returns.
            strict: require exactly the module's keys; otherwise load the keys both have.

        Returns:
            ``LoadResult(missing_keys, unexpected_keys)``.

        Raises:
            CheckpointError: listing the missing and unexpected keys (when ``strict``), every key
                whose value is not numbers (strings, objects, complex for a real tensor), and every key
                whose shape differs, with the expected and the given shape.
        """
        if not hasattr(state_dict, "keys"):
            hint = (f"; read the file first: load_state_dict(chainrule.load({state_dict!r}))"
                    if isinstance(state_dict, str) else "")
            raise TypeError(f"state_dict must be a mapping of names to arrays, not "
                            f"{type(state_dict).__name__}{hint}")
        own = dict(self._state_items())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        values, unreadable = {}, []
        for name in own:
            if name in state_dict:
                try:
                    values[name] = numeric_array(unwrap(state_dict[name]), None, "load_state_dict")
                except (TypeError, ValueError, OverflowError) as error:
                    unreadable.append(f"{name}: {error}")
        unreadable += [f"{name}: complex values for a real {own[name].dtype} tensor"
                       for name, value in values.items() if value.dtype.kind == "c" != own[name].dtype.kind]
        mismatched = [f"{name}: expected shape {own[name].shape}, got {value.shape}"
                      for name, value in values.items() if value.shape != own[name].shape]
        problems = ["values that cannot be loaded: " + "; ".join(unreadable)] if unreadable else []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise CheckpointError(f"cannot load the state dict into {type(self).__name__}:\n  "
                                  + "\n  ".join(problems))
        for name, value in values.items():
            # in place (keeps the layout and the optimiser's references), on the parameter's device
            own[name].data[...] = devices.move(value, devices.device_of(own[name].data))
        return LoadResult(missing, unexpected)

    def to(self, *args, dtype=None, device=None):
        """Move every parameter and buffer to a device, or convert the floating-point ones to a dtype,
        in place; return ``self``.

        ``model.to("cuda")`` before training on a GPU (and before making its optimiser, as in PyTorch;
        an optimiser's state made later follows its parameters); ``model.to("float64")`` before a
        gradient check. A move keeps gradients (moved along); a new dtype clears them.
        """
        dtype, device = to_arguments(args, dtype, device, f"{type(self).__name__}.to")
        for tensor in (*self.parameters(), *self.buffers()):
            if device is not None:
                tensor.data = devices.move(tensor.data, device)
                if tensor.grad is not None:
                    tensor.grad = Tensor._wrap(devices.move(tensor.grad.data, device), None)
            if dtype is not None and tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                tensor.grad = None
        return self

    def float(self):
        """Parameters and floating-point buffers in float32 (``to("float32")``)."""
        return self.to("float32")

    def half(self):
        """Parameters and floating-point buffers in float16 (``to("float16")``)."""
        return self.to("float16")

    def requires_grad_(self, requires_grad=True):
        """Switch gradients on or off for every parameter (``False`` freezes the module for
        fine-tuning); return ``self``."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad_ expects True or False, not {requires_grad!r}")
        for parameter in self.parameters():
            parameter.requires_grad = requires_grad
        return self

    def double(self):
        """Parameters and floating-point buffers in float64 (``to("float64")``)."""
        return self.to("float64")

    def cpu(self):
        """Every parameter and buffer moved to the CPU (``to("cpu")``); ``self``."""
        return self.to("cpu")

    def cuda(self, device=None):
        """Every parameter and buffer moved to a CUDA GPU (``to("cuda")``); ``self``."""
        return self.to("cuda" if device is None else device)

    # -- modes and gradients ----------------------------------------------------------------------

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on every module; return ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects a bool, not {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        """Evaluation mode: dropout off, batch norm uses its running statistics. Returns ``self``."""
        return self.train(False)

    @replayable
    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient: set it to ``None``, or fill it with zeros."""
        for parameter in self.parameters():
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.data = backend.xp.zeros_like(parameter.grad.data)

    # -- calling and printing ---------------------------------------------------------------------

    def forward(self, *inputs):
        """The computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *inputs, **kwargs):
        if hooks.on_module is not None:
            hooks.on_module(self)
        return self.forward(*inputs, **kwargs)

    def extra_repr(self):
        """The settings shown between the parentheses of this module's ``repr``."""
        return ""

    def __repr__(self):
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _check_name(name, kind):
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"{kind} name must be a non-empty string without dots, not {name!r}")


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def check_module(value, where):
    """``value`` if it is a Module, else a TypeError saying where it was given."""
    if isinstance(value, Module):
        return value
    hint = " (wrap functions in a Module, e.g. nn.ReLU() rather than cr.relu)" if callable(value) else ""
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, Module) for item in value):
        hint = " (unpack the list: Sequential(*modules))"
    raise TypeError(f"{where} must be a Module, not {type(value).__name__} {value!r}{hint}")


class _ModuleSequence(Module):
    """Submodules kept in order under the names "0", "1", ..."""

    def append(self, module):
        """Add ``module`` at the end; return ``self``."""
        setattr(self, str(len(self)), check_module(module, f"{type(self).__name__} item {len(self)}"))
        return self

    def extend(self, modules):
        """Append every module of ``modules``; return ``self``."""
        for module in modules:
            self.append(module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, str) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__} is indexed by position (an int or a slice), not "
                            f"{index!r}; use getattr(model, {index!r}) or get_submodule for a name")
        if isinstance(index, slice):
            return self._sliced(items[index])
        try:
            return items[index]
        except IndexError:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of "
                             f"length {len(items)}") from None


class Sequential(_ModuleSequence):
    """Modules applied one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Example:
        >>> from chainrule.nn import Linear, Tanh
        >>> Sequential(Linear(2, 3), Tanh())
        Sequential(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): Tanh()
        )
    """

    def __init__(self, *modules):
        super().__init__()
        self.extend(modules)

    def _sliced(self, modules):
        return Sequential(*modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        if isinstance(modules, Module):
            raise TypeError(f"ModuleList takes an iterable of modules, not one {type(modules).__name__}; "
                            f"write ModuleList([module])")
        self.extend(modules)

    def _sliced(self, modules):
        return ModuleList(modules)
