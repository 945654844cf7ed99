"""The :class:`Optimizer` base class: parameter groups, per-parameter state and checkpoints.

A parameter is any object ``p`` with ``p.data`` (a NumPy array, updated in place) and ``p.grad``
(``None`` or an object whose ``.data`` is an array of ``p``'s shape).
"""

import copy
from collections.abc import MutableMapping

import numpy as np

from .. import backend, devices
from ..core.graph import replayable


class ParamState(MutableMapping):
    """Per-parameter state, keyed by parameter identity (parameters need not be hashable).

    Like PyTorch's ``defaultdict(dict)``, looking up a parameter without state creates an empty dict.
    """

    def __init__(self):
        self._items = {}  # id(param) -> (param, state); holding param keeps its id from being reused

    def __getitem__(self, param):
        if id(param) not in self._items:
            self._items[id(param)] = (param, {})
        return self._items[id(param)][1]

    def __setitem__(self, param, value):
        self._items[id(param)] = (param, value)

    def __delitem__(self, param):
        del self._items[id(param)]

    def __contains__(self, param):
        return id(param) in self._items

    def __iter__(self):
        return (param for param, _ in list(self._items.values()))

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return f"ParamState({len(self)} parameters)"


def _is_param(obj):
    data = getattr(obj, "data", None)
    return not isinstance(obj, dict) and (isinstance(data, np.ndarray) or type(data) in backend.namespaces)


class Optimizer:
    """Base class of optimisers, with PyTorch's interface.

    Subclasses pass their default hyperparameters and implement :meth:`_check` (validation of one
    group's hyperparameters) and :meth:`_update` (the step of one parameter).

    Args:
        params: an iterable of parameters, or of dicts (parameter groups) with a ``"params"`` entry
            and hyperparameters overriding ``defaults``.
        defaults: default hyperparameters.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list) and every hyperparameter.
        state: per-parameter state dicts (a :class:`ParamState`, indexed by parameter).
        defaults: the default hyperparameters.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._check(self.defaults)
        self.state = ParamState()
        self.param_groups = []
        if isinstance(params, dict) or _is_param(params):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of parameters or of dicts, "
                            f"got a single {type(params).__name__}; wrap it in a list")
        if callable(params):  # a model, or its parameters method not called
            raise TypeError(f"{type(self).__name__}: params must be an iterable of parameters, not "
                            f"{getattr(params, '__qualname__', type(params).__name__)}; pass model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- hooks for subclasses ---------------------------------------------------------------------

    def _check(self, group):
        """Raise ``ValueError`` if a hyperparameter of ``group`` is out of range."""

    def _update(self, param, grad, state, group):
        """Update the array ``param`` in place from the array ``grad``, filling the dict ``state``."""
        raise NotImplementedError

    # -- public interface -------------------------------------------------------------------------

    def add_param_group(self, param_group):
        """Add a parameter group (e.g. layers unfrozen during fine-tuning).

        Args:
            param_group: dict with ``"params"`` and optional hyperparameters (missing ones take the
                optimiser's defaults).
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters must be given in a sequence with a fixed order, not a set")
        params = [params] if _is_param(params) else list(params)
        if not params:
            raise ValueError(f"{name}: got a parameter group with an empty parameter list")
        for p in params:
            if not _is_param(p):
                named = isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                hint = "; pass model.parameters(), not named_parameters()" if named else ""
                raise TypeError(f"{name}: a parameter needs an array (NumPy's, or a device's) in .data, got "
                                f"{type(p).__name__}{hint}")
            if not getattr(p, "is_leaf", True):
                raise ValueError(f"{name}: can only optimise leaf tensors, but got one computed by "
                                 f"{p.grad_fn} (its updates would be lost on the next step); optimise the "
                                 f"tensor it was computed from, or make it a leaf with "
                                 f".detach().requires_grad_()")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for p in params:
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter appears more than once "
                                 "(in two parameter groups or twice in one)")
            seen.add(id(p))
        group = {**self.defaults, **param_group, "params": params}
        self._check(group)
        self.param_groups.append(group)

    @replayable
    def zero_grad(self, set_to_none=True):
        """Clear the gradients of all parameters.

        Args:
            set_to_none: set ``p.grad`` to ``None`` (default); otherwise fill the gradient arrays with
                zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    @replayable
    def step(self, closure=None):
        """Update every parameter that has a gradient (parameters whose grad is ``None`` are skipped).

        Args:
            closure: optional callable that recomputes the loss and gradients, called first.

        Returns:
            The closure's loss, or ``None``.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p.data, p.grad.data, self.state[p], group)
        return loss

    def state_dict(self):
        """The optimiser's state as plain data, with parameters replaced by their index.

        Returns:
            ``{"state": {index: {name: value}}, "param_groups": [{..., "params": [index, ...]}]}``, with
            parameters numbered in group order as in PyTorch; arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a state saved by :meth:`state_dict` (of an optimiser over the same parameter layout).

        Args:
            state_dict: the saved state; its arrays are copied (and cast to each parameter's dtype).
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{name}: a state dict needs 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the loaded state dict has {len(saved_groups)} parameter groups, "
                             f"but this optimizer has {len(self.param_groups)}")
        params = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{name}: parameter group {i} of the loaded state dict has "
                                 f"{len(saved['params'])} parameters, but this optimizer's has "
                                 f"{len(group['params'])}")
            params.update(zip(saved["params"], group["params"]))
        state = ParamState()
        for key, saved in state_dict["state"].items():
            if int(key) not in params:
                raise ValueError(f"{name}: the loaded state dict has state for an unknown parameter {key!r}")
            p = params[int(key)]
            state[p] = {k: self._restore(v, p, k) for k, v in saved.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            self._check(new_group)
            new_groups.append(new_group)
        self.state = state
        self.param_groups = new_groups

    def _restore(self, value, param, key):
        if not isinstance(value, np.ndarray) and type(value) not in backend.namespaces:
            return copy.deepcopy(value)
        if value.shape != param.data.shape:
            raise ValueError(f"{type(self).__name__}: state {key!r} of shape {value.shape} "
                             f"for a parameter of shape {param.data.shape}")
        dtype = param.data.dtype if value.dtype.kind == "f" else value.dtype
        place = devices.device_of(param.data)  # the state goes where its parameter is
        return devices.move(devices.to_host(value).astype(dtype, copy=True), place)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])
