"""Observers on the engine's hooks for the length of a ``with`` block.

A new observer runs after the ones already installed, so traces, graphs and anomaly checks nest; on
leaving, the hooks are restored exactly as they were (``None`` when nothing else observes: free).
"""

import contextlib

from ..core.graph import chained, hooks


@contextlib.contextmanager
def observing(on_forward=None, on_vjp=None, on_jvp=None, record_site=False):
    """Add observers to :class:`chainrule.core.graph.hooks` inside the block.

    Args:
        on_forward: ``f(prim, inputs, out, params)`` after every primitive's forward.
        on_vjp: ``f(node, argnum, g, g_input, summed_axes)`` after every VJP rule.
        on_jvp: ``f(prim, argnum, tangent, tangent_out, inputs, params)`` after every JVP rule.
        record_site: store the user's source line in every graph node made inside.
    """
    saved = hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site
    hooks.on_forward = chained(hooks.on_forward, on_forward)
    hooks.on_vjp = chained(hooks.on_vjp, on_vjp)
    hooks.on_jvp = chained(hooks.on_jvp, on_jvp)
    hooks.record_site = hooks.record_site or record_site
    try:
        yield
    finally:
        hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site = saved
