"""Argument checks shared by the primitives and the layers above them (convolution and pooling
arguments, probabilities), so each argument is validated in one place and refused with one message:
``"WHERE: NAME must be ALLOWED, not VALUE"``, ending with the user's line."""

from ..errors import ShapeError, user_line
from ..validation import check_number


def located(message, kind=None):
    """An error (``ShapeError`` unless ``kind`` is given) whose message ends with the user's line."""
    if kind is None or kind is ShapeError:
        return ShapeError(message)  # adds the line itself
    return kind(message + user_line())


def ints(value, axes, where, name):
    """``value`` (an int, or one int per axis of ``axes``) as a tuple of ints, one per axis."""
    values = (value,) * len(axes) if isinstance(value, int) else tuple(value)
    if len(values) != len(axes) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise located(f"{where}: {name} must be an int or {len(axes)} ints, not {value!r}", ValueError)
    return values


def positive_ints(value, axes, where, name):
    """:func:`ints`, each positive."""
    values = ints(value, axes, where, name)
    if any(v <= 0 for v in values):
        raise located(f"{where}: {name} must be positive, got {value!r}", ValueError)
    return values


def check_groups(where, groups, *channels):
    """``groups``, a positive int dividing every count in ``channels``."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise located(f"{where}: groups must be a positive int, not {groups!r}", ValueError)
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
