"""Feature preprocessing fitted on a training split and applied unchanged to the others."""

import numpy as np

from chainrule.errors import DataError


class Standardizer:
    """Scales each feature to zero mean and unit variance, with statistics taken from ``fit``'s data.

    A feature that is constant in the fitted data is only centred (its scale is taken as 1).
    Statistics are kept in float64; transformed floats keep their dtype, integers become float64.
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, x):
        """Compute the per-feature mean and standard deviation over the rows of ``x``.

        Args:
            x: Array of shape ``(n, *feature_shape)`` with ``n >= 1``.

        Returns:
            This standardizer.
        """
        x = np.asarray(x)
        if x.ndim == 0 or len(x) == 0:
            raise DataError(f"Standardizer.fit needs at least one row, got an array of shape {x.shape}")
        self.mean = x.mean(axis=0, dtype=np.float64)
        std = np.sqrt(_squared_deviations(x, self.mean) / len(x))
        # Rounding leaves a constant feature a std of a few ulps of its mean rather than exactly 0.
        self.std = np.where(std <= 1e-10 * np.abs(self.mean), 1.0, std)
        return self

    def transform(self, x, out=None):
        """Return ``(x - mean) / std``, computed in the result's dtype (float32 for float32 data: no
        float64 copy of a large data set).

        Args:
            x: Array of shape ``(n, *feature_shape)``.
            out: an array of ``x``'s shape to write the result into (``x`` itself standardises in
                place), or ``None`` for a new one.

        Returns:
            The standardized array.
        """
        x = self._check(x)
        dtype = np.result_type(x.dtype, np.float32) if out is None else out.dtype
        out = np.subtract(x, self.mean.astype(dtype), out=out, dtype=dtype)
        out /= self.std.astype(dtype)
        return out

    def fit_transform(self, x):
        """Fit on ``x`` and return it standardized.

        Args:
            x: Array of shape ``(n, *feature_shape)``.

        Returns:
            The standardized array.
        """
        return self.fit(x).transform(x)

    def inverse_transform(self, z):
        """Return ``z * std + mean``, undoing :meth:`transform`.

        Args:
            z: Standardized array of shape ``(n, *feature_shape)``.

        Returns:
            The array in the original units.
        """
        z = self._check(z)
        return (z * self.std + self.mean).astype(np.result_type(z.dtype, np.float32))

    def state_dict(self):
        """Return the fitted statistics.

        Returns:
            ``{"mean": array, "std": array}`` (copies).
        """
        if self.mean is None:
            raise DataError("Standardizer is not fitted; call fit(x) before state_dict()")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state_dict):
        """Restore statistics saved by :meth:`state_dict`.

        Args:
            state_dict: A dict with ``"mean"`` and ``"std"`` arrays of the same shape.
        """
        missing = {"mean", "std"} - set(state_dict)
        if missing:
            raise DataError(f"Standardizer state_dict lacks {sorted(missing)}")
        mean = np.asarray(state_dict["mean"], dtype=np.float64)
        std = np.asarray(state_dict["std"], dtype=np.float64)
        if mean.shape != std.shape:
            raise DataError(
                f"Standardizer state_dict has mean of shape {mean.shape}, std of shape {std.shape}"
            )
        if np.any(std <= 0):
            raise DataError("Standardizer state_dict has a std that is not positive")
        self.mean, self.std = mean.copy(), std.copy()

    def _check(self, x):
        if self.mean is None:
            raise DataError("Standardizer is not fitted; call fit(x) first")
        x = np.asarray(x)
        if x.shape[1:] != self.mean.shape:
            raise DataError(
                f"Standardizer was fitted on features of shape {self.mean.shape}, "
                f"got array of shape {x.shape}"
            )
        return x


def _squared_deviations(x, mean, rows=4096):
    """The per-feature sum of ``(x - mean)**2`` in float64, a block of rows at a time (a float64 copy
    of a whole image data set would be twice its size)."""
    total = np.zeros(mean.shape, dtype=np.float64)
    for start in range(0, len(x), rows):
        deviation = x[start:start + rows] - mean
        total += np.einsum("i...,i...->...", deviation, deviation)
    return total
