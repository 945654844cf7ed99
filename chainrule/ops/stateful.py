"""Operations whose results are not functions of their inputs alone: random keep-masks drawn from a
generator, and in-place updates of running statistics.

They are primitives (with no derivative) so that every operation a training step performs goes through
the engine: a compiled step (:mod:`chainrule.compile`) then replays them as they are, drawing fresh
numbers from the same generator and updating the same buffers, instead of freezing the values seen
while it was recorded.
"""

from .. import backend
from ..core.batching import defbatch, materialize, refuse
from ..core.primitive import primitive


def _keep_mask(xp, x, p, shape=None, dtype=None, generator=None):
    """Inverted-dropout mask: each element kept with probability ``1 − p`` and scaled by ``1/(1 − p)``
    (so the expectation is unchanged), 0 otherwise; of ``shape`` (default ``x``'s) and ``dtype`` (default
    ``x``'s float type)."""
    shape = xp.shape(x) if shape is None else shape
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else xp.float64
    keep = generator.random(shape, dtype=xp.float32) >= p
    if xp is not backend.xp:  # drawn on the host, as on the CPU (the same masks for a seed), then moved
        keep = xp.asarray(keep)
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


def _keep_mask_batched(args, dims, size, shape=None, dtype=None, generator=None):
    # A mask of the whole batch's shape: every example draws its own numbers (randomness="different").
    if dims[1] is not None:
        raise NotImplementedError("vmap: keep_mask (dropout) with a probability that differs from example "
                                  "to example is not supported")
    x = materialize(args[0], dims[0], size)
    return keep_mask(x, args[1], shape=None if shape is None else (size,) + tuple(shape), dtype=dtype,
                     generator=generator)


defbatch(keep_mask, _keep_mask_batched)
refuse(running_update, "a running statistic (batch norm in training mode) updated in place from one "
                       "example at a time has no batched meaning; call the layer in eval() mode under vmap")
