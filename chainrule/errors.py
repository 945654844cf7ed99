"""Exceptions raised by chainrule.

Every error a user can cause derives from :class:`ChainruleError`, and also from the built-in
exception a Python user would expect (``ValueError``, ``RuntimeError``...), so both ``except`` styles work.
"""

import functools
import linecache
import os
import sys


class ChainruleError(Exception):
    """Base class of all chainrule errors."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit an operation.

    The message ends with the user's line that led to the error (see :func:`user_line`), wherever in
    chainrule it is raised: in a primitive, a layer or a loss.
    """

    def __init__(self, message=""):
        if isinstance(message, str) and _AT not in message:
            message += user_line()
        super().__init__(message)


class GraphError(ChainruleError, RuntimeError):
    """Misuse of the recorded graph (second backward through a freed graph, non-scalar backward...)."""


class DataError(ChainruleError, ValueError):
    """A data set that is missing, malformed or used wrongly."""


class CheckpointError(ChainruleError, ValueError):
    """A weights or checkpoint file that cannot be read or written."""


class DeviceError(ChainruleError, RuntimeError):
    """A device that is not available here, or one operation given arrays on two devices."""


class AnomalyError(ChainruleError, FloatingPointError):
    """A NaN or infinity produced inside ``chainrule.inspect.detect_anomaly()``."""


_AT = "\n  at "


def user_line():
    """The innermost line of code outside chainrule on the current stack, as ``"\n  at file:line:
    code"`` (empty when there is none), for the end of an error message."""
    site = user_site()
    return f"{_AT}{site[0]}:{site[1]}: {site[2]}" if site else ""


@functools.cache
def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))  # the chainrule package


def user_site(skip_internal=True):
    """The innermost stack frame outside chainrule: (filename, line number, source line)."""
    frame = sys._getframe(1)
    package = _package_dir()
    while frame is not None and skip_internal and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
    if frame is None:
        return None
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    return filename, lineno, linecache.getline(filename, lineno).strip()
