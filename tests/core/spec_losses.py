"""Spec-table entries for the mean cross-entropy primitive (chainrule/ops/cross_entropy.py): labels with
an ignored one, along the last axis and along axis 1, and without an ignore_index."""

import numpy as np

from chainrule.ops.cross_entropy import softmax_cross_entropy_mean
from tests.core.domains import real

IGNORED = np.array([0, -100, 3, 1])
PER_POSITION = np.array([[1, 0, -1], [2, 2, 0]])  # (N, d) labels of (N, C, d) logits, -1 ignored

SPECS = {
    "softmax_cross_entropy_mean": [
        (lambda z: softmax_cross_entropy_mean(z, IGNORED), [real(4, 4)]),
        (lambda z: softmax_cross_entropy_mean(z, PER_POSITION, axis=1, ignore_index=-1), [real(2, 3, 3)]),
        (lambda z: softmax_cross_entropy_mean(z, np.array([2, 0]), ignore_index=None), [real(2, 3)])],
}
