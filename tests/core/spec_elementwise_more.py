"""Spec-table entries for NumPy's other elementwise functions (chainrule/ops/elementwise_more.py).
Inputs are scaled or shifted into each function's smooth domain."""

import numpy as np

import chainrule as cr
from tests.core.domains import positive, real

WITH_NAN = np.array([np.nan, 0.0, 1.0, np.nan])
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])


def _nan_to_num_of_log(x):
    """NaNs where the log's argument is negative (derivatives there stay finite)."""
    with np.errstate(invalid="ignore"):
        return cr.nan_to_num(cr.log(x * SIGNS), nan=-1.0)

SPECS = {
    "tan": [(cr.tan, [real(2, 3)])],
    "arcsin": [(lambda x: cr.arcsin(0.6 * x), [real(5)])],
    "arccos": [(lambda x: cr.arccos(0.6 * x), [real(5)])],
    "arctan": [(cr.arctan, [real(5)])],
    "arctan2": [(cr.arctan2, [real(3, 4), positive(4)]), (cr.arctan2, [positive(3), real(3)])],
    "sinh": [(cr.sinh, [real(5)])],
    "cosh": [(cr.cosh, [real(5)])],
    "arcsinh": [(cr.arcsinh, [real(5)])],
    "arccosh": [(lambda x: cr.arccosh(x + 1.0), [positive(5)])],
    "arctanh": [(lambda x: cr.arctanh(0.6 * x), [real(5)])],
    "hypot": [(cr.hypot, [positive(3, 2), real(2)])],
    "sinc": [(cr.sinc, [positive(5)]), (lambda x: cr.sinc(-x), [positive(3)])],
    "exp2": [(cr.exp2, [real(5)])],
    "log2": [(cr.log2, [positive(5)])],
    "log10": [(cr.log10, [positive(5)])],
    "cbrt": [(cr.cbrt, [positive(5)]), (lambda x: cr.cbrt(-x), [positive(3)])],
    "erfc": [(cr.erfc, [real(5)])],
    "logaddexp": [(cr.logaddexp, [real(3, 4), real(4)])],
    "logaddexp2": [(cr.logaddexp2, [real(3, 4), real(3, 1)])],
    "fmax": [(cr.fmax, [real(3, 4), real(4)]), (lambda x: cr.fmax(x, WITH_NAN), [real(4)])],
    "fmin": [(cr.fmin, [real(3, 4), real(4)]), (lambda x: cr.fmin(WITH_NAN, x), [real(4)])],
    "floor": [(lambda x: x * cr.floor(3 * x + 0.5), [positive(4)])],
    "ceil": [(lambda x: x * cr.ceil(3 * x + 0.5), [positive(4)])],
    "trunc": [(lambda x: x * cr.trunc(3 * x + 0.5), [real(4)])],
    "round": [(lambda x: x * cr.round(3 * x + 0.5, 1), [positive(4)])],
    # the quotient stays away from integers: x in [0.5, 2], y in [2.5, 4] or [-4, -2.5]
    "remainder": [(lambda x, y: cr.remainder(x, y + 2.0), [positive(3), positive(3)]),
                  (lambda x, y: cr.mod(-x, y + 2.0), [positive(3), positive(3)])],
    "floor_divide": [(lambda x, y: x * cr.floor_divide(x, y + 2.0) + y, [positive(3), positive(3)])],
    "fmod": [(lambda x, y: cr.fmod(-x, y + 2.0), [positive(3), positive(3)])],
    "nan_to_num": [(_nan_to_num_of_log, [positive(4)])],
    "clip_bounds": [(lambda x, lo, hi: cr.clip(2 * x, lo - 1.0, hi), [real(6), real(6), positive(6)]),
                    (lambda x, lo: cr.clip(2 * x, lo, None), [real(3, 4), real(4)])],
}
