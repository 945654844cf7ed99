"""Random number generators for initialisers and dropout, so that every run can be reproduced.

Every function and layer that draws random numbers takes a ``generator``: a NumPy
``numpy.random.Generator``, an int seed, or ``None`` for the shared default generator. The default
generator starts from a fixed seed, so a fresh process is reproducible; :func:`manual_seed` resets it.
"""

import numpy as np

_DEFAULT_SEED = 0
_default = np.random.default_rng(_DEFAULT_SEED)


def manual_seed(seed):
    """Reset the shared default generator to ``seed`` and return it (like ``torch.manual_seed``).

    Example:
        >>> from chainrule.nn import Linear
        >>> from chainrule.nn.rng import manual_seed
        >>> _ = manual_seed(7); a = Linear(2, 2).weight.numpy().copy()
        >>> _ = manual_seed(7); b = Linear(2, 2).weight.numpy()
        >>> bool((a == b).all())
        True
    """
    global _default
    if not _is_seed(seed):
        raise TypeError(f"seed must be a non-negative int, not {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator():
    """The shared generator used where ``generator=None``."""
    return _default


def as_generator(generator, argument="generator"):
    """``generator`` as a ``numpy.random.Generator``.

    Args:
        generator: a Generator (returned as it is), an int seed (a new Generator), or ``None`` (the
            shared default generator).
        argument: the argument's name, for the error message.
    """
    if generator is None:
        return _default
    if isinstance(generator, np.random.Generator):
        return generator
    if _is_seed(generator):
        return np.random.default_rng(int(generator))
    raise TypeError(f"{argument} must be a numpy.random.Generator, a non-negative int seed or None, "
                    f"not {generator!r}")


def _is_seed(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0
