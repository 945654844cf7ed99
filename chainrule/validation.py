"""Argument checks with one message shape: ``"OWNER: NAME must be ALLOWED, not VALUE"``.

Layers, optimisers, schedulers and the ``chainrule train`` settings use these, so every refused
argument is reported the same way: who refused it, the argument's name, what is allowed and the value
given.

Example:
    >>> check_int(0, "in_features", owner="Linear")
    Traceback (most recent call last):
    ...
    ValueError: Linear: in_features must be a positive integer, not 0
    >>> check_number(1.5, "dropout", 0, 1, what="a probability", owner="MLP")
    Traceback (most recent call last):
    ...
    ValueError: MLP: dropout must be a probability in [0, 1), not 1.5
    >>> check_choice("adamx", "optimizer", ["sgd", "adam"])
    Traceback (most recent call last):
    ...
    ValueError: optimizer must be one of 'sgd', 'adam', not 'adamx' (did you mean 'adam'?)
"""

import difflib
import math
import numbers


def fail(name, allowed, value, owner=None, error=ValueError, note=""):
    """Raise ``error`` with the message ``"OWNER: NAME must be ALLOWED, not VALUE"`` (and ``note``)."""
    prefix = f"{owner}: " if owner else ""
    raise error(f"{prefix}{name} must be {allowed}, not {value!r}{note}")


def check_int(value, name, low=1, high=None, *, owner=None, error=ValueError):
    """``value`` as an int, if it is an integer (not a bool) in ``[low, high]``; else :func:`fail`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (low is not None and value < low) or (high is not None and value > high):
        fail(name, _integer_range(low, high), value, owner, error)
    return int(value)


def check_number(value, name, low=None, high=None, *, low_open=False, high_open=True, what="a number",
                 owner=None, error=ValueError):
    """``value`` as a float, if it is a finite real number (not a bool) within the bounds; else
    :func:`fail`.

    Args:
        value: the value to check; NaN and infinity always fail.
        name: the argument's name in the message.
        low, high: the bounds, ``None`` for none.
        low_open, high_open: whether each bound is excluded (by default ``[low, high)``).
        what: the kind of number in the message ("a probability", "a learning rate"...).
        owner: who checks (a class or function name), or ``None``.
        error: the exception class.
    """
    allowed = f"{what} {_number_range(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, allowed, value, owner, error)
    number = float(value)
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        fail(name, allowed, value, owner, error)
    return number


def check_choice(value, name, choices, *, owner=None, error=ValueError, context=""):
    """``value``, if it is one of ``choices``; else :func:`fail` naming them and the closest one."""
    choices = list(choices)
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(choice) for choice in choices], n=1)
        note = f" (did you mean {close[0]!r}?)" if close else ""
        fail(name, f"one of {', '.join(map(repr, choices))}{context}", value, owner, error, note)
    return value


def check_bool(value, name, *, owner=None, error=TypeError):
    """``value``, if it is True or False; else :func:`fail`."""
    if not isinstance(value, bool):
        fail(name, "True or False", value, owner, error)
    return value


def _integer_range(low, high):
    if high is None:
        if low is None:
            return "an integer"
        return {1: "a positive integer", 0: "a non-negative integer"}.get(low, f"an integer >= {low}")
    return f"an integer in [{'-inf' if low is None else low}, {high}]"


def _number_range(low, high, low_open, high_open):
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
