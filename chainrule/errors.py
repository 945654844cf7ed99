"""Exceptions raised by chainrule.

Every error a user can cause derives from :class:`ChainruleError`, and also from the built-in
exception a Python user would expect (``ValueError``, ``RuntimeError``...), so both ``except`` styles work.
"""


class ChainruleError(Exception):
    """Base class of all chainrule errors."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit an operation."""


class GraphError(ChainruleError, RuntimeError):
    """Misuse of the recorded graph (second backward through a freed graph, non-scalar backward...)."""


class DataError(ChainruleError, ValueError):
    """A data set that is missing, malformed or used wrongly."""


class CheckpointError(ChainruleError, ValueError):
    """A weights or checkpoint file that cannot be read or written."""


class AnomalyError(ChainruleError, FloatingPointError):
    """A NaN or infinity produced inside ``chainrule.inspect.detect_anomaly()``."""
