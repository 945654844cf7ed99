"""The two ways rules run, shared by the backward pass and forward mode.

:data:`BARE`: on bare arrays through :data:`~chainrule.core.primitive.raw`, nothing recorded (a first-
order pass). :data:`RECORDED`: on tensors through :data:`~chainrule.core.primitive.diff`, chainrule's
own primitives, so what the rules compute is itself recorded and can be differentiated again (a
``create_graph`` pass, or forward mode where something is followed).
"""

from .. import backend, devices
from ..errors import user_line
from .graph import hooks
from .registry import diff, raw
from .tensor import Tensor, unwrap


class _Bare:
    """Rules on bare arrays: values are unwrapped, results wrapped as constant tensors."""

    ns = raw
    records = False
    value = staticmethod(unwrap)

    @staticmethod
    def values(xs):
        return [unwrap(x) for x in xs]

    @staticmethod
    def saved(node):
        """What the VJP rules read of a node: its inputs and its output (only their shapes and dtypes
        where it saved none)."""
        return node.values, node.ans

    @staticmethod
    def result(x):
        """A value the rules computed, as a tensor outside any graph."""
        return Tensor._wrap(x, None)


class _Recorded:
    """Rules on tensors, recorded: values are passed as they are, and a node's output is the tensor it
    made (with its forward-mode tangents), so the rules' results depend on the forward graph."""

    ns = diff
    records = True

    @staticmethod
    def value(x):
        # A bare array (a tangent given as one) as a constant tensor, so rules applied to it record.
        bare = isinstance(x, backend.ndarray) or type(x) in backend.namespaces
        return Tensor._wrap(x, None) if bare else x

    @staticmethod
    def values(xs):
        return xs

    @staticmethod
    def saved(node):
        if not node.prim.saves_ans:
            return node.inputs, node.ans
        ans = Tensor._wrap(node.ans, node)
        ans._tangents = node.ans_tangents
        return node.inputs, ans

    @staticmethod
    def result(x):
        return x if isinstance(x, Tensor) else Tensor._wrap(x, None)


def seed(value, like, what, keep_tensor):
    """A tangent or cotangent ``value`` given for ``like``: real numbers, as an array of ``like``'s
    dtype (a tensor kept as it is when ``keep_tensor``); a TypeError naming both dtypes otherwise."""
    array = unwrap(value)
    if devices.device_of(array) is devices.CPU:
        array = backend.asarray(array)
    if backend.placed:  # a seed given for a tensor on another device goes there
        array = devices.move(array, devices.device_of(like.data))
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} has dtype {array.dtype} for a value of dtype {like.dtype}: it must hold "
                        f"real numbers{user_line()}")
    if keep_tensor and isinstance(value, Tensor):
        return value
    result = array.astype(like.dtype, copy=False) if like.dtype.kind == "f" else array
    if hooks.on_array is not None and result is not unwrap(value):
        hooks.on_array(unwrap(value), result)
    return result


BARE = _Bare()
RECORDED = _Recorded()


def mode(records):
    """:data:`RECORDED` when the rules' results must be differentiable, else :data:`BARE`."""
    return RECORDED if records else BARE
