"""The recorded program of a step, as a listing (``jax.make_jaxpr``, but of a whole training step)."""


def program(fn, *args, **kwargs):
    """The program :func:`chainrule.compile` records for ``fn(*args, **kwargs)``: print it for one line per
    array operation (forward, backward, update) with the buffer it writes, its shape and dtype, the
    buffers dropped after it, and your line that caused it.

    ``fn`` is run once to record it (a training step takes its optimiser step), unless it is already
    compiled and has a program for these arguments.

    Returns:
        The :class:`~chainrule.compile.Program`; ``str()`` of it is the listing, ``.source()`` the
        Python function the replay runs.
    """
    from ..compile import Compiled, record
    if isinstance(fn, Compiled):
        return fn.program(*args, **kwargs)
    return record(fn, args, kwargs)[1]
