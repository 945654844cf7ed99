"""Operations whose results are not functions of their inputs alone: random keep-masks drawn from a
generator, and in-place updates of running statistics.

They are primitives (with no derivative) so that every operation a training step performs goes through
the engine: a compiled step (:mod:`chainrule.compile`) then replays them as they are, drawing fresh
numbers from the same generator and updating the same buffers, instead of freezing the values seen
while it was recorded.
"""

from ..core.primitive import primitive


def _keep_mask(xp, x, p, shape=None, dtype=None, generator=None):
    """Inverted-dropout mask: each element kept with probability ``1 − p`` and scaled by ``1/(1 − p)``
    (so the expectation is unchanged), 0 otherwise; of ``shape`` (default ``x``'s) and ``dtype`` (default
    ``x``'s float type)."""
    shape = xp.shape(x) if shape is None else shape
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else xp.float64
    keep = generator.random(shape, dtype=xp.float32) >= p
    return (keep / (1 - p) if p < 1 else keep).astype(dtype)


keep_mask = primitive("keep_mask", _keep_mask, differentiable=False, stateful=True)


def _running_update(xp, running, value, decay=1, scale=1):
    """``running ← decay · running + scale · value`` in place (``value`` flattened to ``running``'s
    shape); returns ``running``."""
    if decay != 1:
        running *= decay
    running += scale * xp.reshape(value, running.shape)
    return running


running_update = primitive("running_update", _running_update, differentiable=False, stateful=True)
