"""Argument checks shared by the primitives and the layers above them (convolution and pooling
arguments, probabilities), so each argument is validated in one place and refused with one message:
``"WHERE: NAME must be ALLOWED, not VALUE"``, ending with the user's line."""

import numbers

from ..errors import ShapeError, user_line
from ..validation import check_number

_SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def located(message, kind=None):
    """An error (``ShapeError`` unless ``kind`` is given) whose message ends with the user's line."""
    if kind is None or kind is ShapeError:
        return ShapeError(message)  # adds the line itself
    return kind(message + user_line())


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def ints(value, axes, where, name):
    """``value`` (an int, or one int per axis of ``axes``) as a tuple of ints, one per axis."""
    try:
        values = (value,) * len(axes) if _is_int(value) else tuple(value)
    except TypeError:  # neither an int nor a sequence
        values = ()
    if len(values) != len(axes) or not all(map(_is_int, values)):
        raise located(f"{where}: {name} must be an int or {len(axes)} ints, not {value!r}", ValueError)
    return tuple(int(v) for v in values)


def positive_ints(value, axes, where, name):
    """:func:`ints`, each positive."""
    values = ints(value, axes, where, name)
    if any(v <= 0 for v in values):
        raise located(f"{where}: {name} must be positive, got {value!r}", ValueError)
    return values


def check_layout(where, shape, spatial, channels=None):
    """Raise unless ``shape`` is ``(N, C, *spatial axes)`` with ``spatial`` spatial axes (1 to 3), and
    ``channels`` channels where given."""
    if len(shape) != spatial + 2 or (channels is not None and shape[1] != channels):
        axes = ", ".join(("N", "C" if channels is None else str(channels)) + _SPATIAL_NAMES[spatial])
        counted = "" if channels is None else f" with {channels} channels"
        raise located(f"{where}: expected an input of shape ({axes}){counted}, got {shape}")


def check_output_padding(where, output_padding, stride):
    """A transposed convolution's ``output_padding`` as one int per axis, each in ``[0, stride)``."""
    extra = ints(output_padding, stride, where, "output_padding")
    if any(e < 0 or e >= s for e, s in zip(extra, stride)):
        raise located(f"{where}: output_padding must lie in [0, stride) on every axis, got {extra} with "
                      f"stride {stride}")
    return extra


def check_groups(where, groups, *channels):
    """``groups``, a positive int dividing every count in ``channels``."""
    if not _is_int(groups) or groups <= 0:
        raise located(f"{where}: groups must be a positive int, not {groups!r}", ValueError)
    groups = int(groups)
    if any(c % groups for c in channels):
        counts = " and ".join(str(c) for c in channels)
        raise located(f"{where}: groups={groups} must divide the channel counts ({counts})", ValueError)
    return groups


def conv_padding(where, padding, kernel, stride, dilation, allow_same=True):
    """``padding`` (int, per axis, per side, ``"valid"``, ``"same"``) as ``(before, after)`` pairs."""
    if padding == "valid":
        return ((0, 0),) * len(kernel)
    if padding == "same" and allow_same:
        if any(s != 1 for s in stride):
            raise located(f"{where}: padding='same' needs stride 1, got stride {stride}", ValueError)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        allowed = "'valid', 'same'" if allow_same else "'valid'"
        raise located(f"{where}: padding must be an int, a tuple, {allowed}; not {padding!r}", ValueError)
    if isinstance(padding, int) or all(isinstance(p, int) for p in padding):
        pairs = tuple((p, p) for p in ints(padding, kernel, where, "padding"))
    else:
        pairs = tuple(tuple(ints(p, range(2), where, "padding")) for p in padding)
        if len(pairs) != len(kernel):
            raise located(f"{where}: padding needs one (before, after) pair per spatial axis "
                          f"({len(kernel)}), got {padding!r}", ValueError)
    if any(p < 0 for pair in pairs for p in pair):
        raise located(f"{where}: padding must be non-negative, got {padding!r}", ValueError)
    return pairs


def check_fits(where, size, kernel, padding, dilation):
    """Raise unless the (dilated) kernel fits inside the padded input on every axis."""
    padded_size = tuple(n + before + after for n, (before, after) in zip(size, padding))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(s > n for s, n in zip(span, padded_size)):
        raise located(f"{where}: the kernel {tuple(kernel)} (spanning {span} with dilation "
                      f"{tuple(dilation)}) is larger than the padded input {padded_size}")


def check_probability(p, where, name="p"):
    """Raise unless ``p`` is a number in [0, 1] (see chainrule.validation); ``name`` is the argument's
    name in the message (``dropout`` for a recurrent layer's)."""
    check_number(p, name, 0, 1, high_open=False, what="a probability", owner=where)
