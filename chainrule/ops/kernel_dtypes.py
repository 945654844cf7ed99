"""The dtypes the C kernels are built for, named as their functions' suffixes."""

import numpy as np

NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
"""Native float32 and float64 by their names, looked up by dtype: NumPy computes ``dtype.name`` in
Python (3-5 µs, as long as a small kernel's call), and a byte-swapped dtype, which no kernel reads,
is not here although its name is the same."""
