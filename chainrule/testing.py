"""Gradient checking, public like JAX's ``check_grads``: forward and reverse mode against central
differences, to any order, plus the adjoint identity that ties the two modes together."""

import numpy as np

from .core.tensor import unwrap
from .transforms import jvp, vjp


def _numeric(x):
    return np.asarray(unwrap(x), dtype=np.float64)


def _inner(a, b):
    return float(np.sum(_numeric(a) * _numeric(b)))


def _random_like(x, rng):
    return rng.standard_normal(np.shape(_numeric(x)))


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """Check the derivatives of ``f`` at ``args`` against central differences.

    For random directions ``v`` (inputs) and ``u`` (output), it checks
    ``J v ≈ (f(x + εv) - f(x - εv)) / 2ε`` in forward mode, ``⟨u, J v⟩ ≈ ⟨Jᵀu, v⟩`` numerically in
    reverse mode, and the adjoint identity ``⟨u, J v⟩ = ⟨Jᵀu, v⟩`` between the two modes; with
    ``order > 1`` it checks the derivative functions themselves the same way.

    Args:
        f: a function of float64 arrays or tensors returning one tensor.
        args: the point, a tuple of arrays.
        order: how many times to differentiate.
        modes: ``"fwd"``, ``"rev"`` or both.
        eps, rtol, atol: the finite-difference step and tolerances.
        seed: for the random directions.

    Raises:
        AssertionError: naming the mode and order that disagreed, and by how much.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> check_grads(cr.tanh, (np.array([0.1, -0.4]),), order=2)
    """
    rng = np.random.default_rng(seed)
    args = tuple(_numeric(a) for a in args)
    _check(f, args, order, modes, eps, rtol, atol, rng)


def _check(f, args, order, modes, eps, rtol, atol, rng):
    v = tuple(_random_like(a, rng) for a in args)
    out, tangent = jvp(f, args, v)
    u = _random_like(out, rng)

    def f_along(step):
        return _numeric(f(*(a + step * d for a, d in zip(args, v, strict=True))))

    numeric = (f_along(eps) - f_along(-eps)) / (2 * eps)
    if "fwd" in modes:
        _assert_close(_numeric(tangent), numeric, rtol, atol, f"forward mode (order {order})")
    if "rev" in modes:
        _, vjp_fn = vjp(f, *args)
        cotangents = vjp_fn(u)
        reverse = sum(_inner(c, d) for c, d in zip(cotangents, v, strict=True))
        _assert_close(reverse, _inner(u, numeric), rtol, atol, f"reverse mode (order {order})")
        if "fwd" in modes:
            _assert_close(reverse, _inner(u, tangent), 1e-10, 1e-12, f"adjoint identity (order {order})")
    if order > 1:
        if "fwd" in modes:
            _check(lambda *xs: jvp(f, xs, v)[1], args, order - 1, modes, eps, rtol, atol, rng)
        if "rev" in modes:
            _check(lambda *xs: _vjp_sum(f, xs, u), args, order - 1, modes, eps, rtol, atol, rng)


def _vjp_sum(f, xs, u):
    """All input cotangents of ``f`` for output cotangent ``u``, flattened into one vector."""
    from .ops import concatenate, reshape
    cotangents = vjp(f, *xs)[1](u)
    return concatenate([reshape(c, (-1,)) for c in cotangents])


def _assert_close(actual, expected, rtol, atol, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        error = np.max(np.abs(actual - expected))
        raise AssertionError(f"{what} disagrees with central differences: max abs error {error:.3g}\n"
                             f"  got      {actual}\n  expected {expected}")


def check_on_device(f, args, device, rtol=1e-7, atol=1e-9, seed=0):
    """Check that ``f`` and both its derivatives computed on ``device`` equal the CPU's, in float64: the
    value, the VJP and the JVP (for random directions), each a tensor on ``device``.

    Args:
        f: a function of tensors returning a tensor or a pytree of tensors.
        args: the point, a tuple of arrays (on the host).
        device: ``"cuda"``, or any device :func:`chainrule.devices.device` knows.
        rtol, atol: tolerances against the CPU's results (a GPU's reductions and products sum in
            another order).
        seed: for the random directions.

    Raises:
        AssertionError: naming what disagreed (value, VJP of an input, JVP), or what was left off the
            device; a :class:`~chainrule.errors.DeviceError` when ``f`` mixes in arrays of the host.
    """
    from . import devices
    from .creation import tensor
    from .tree import tree_flatten, tree_unflatten
    target = devices.device(device, "check_on_device")
    rng = np.random.default_rng(seed)
    args = tuple(_numeric(a) for a in args)
    directions = tuple(rng.standard_normal(a.shape) for a in args)
    out, tangent = jvp(f, args, directions)
    leaves, structure = tree_flatten(out)
    cotangent = [rng.standard_normal(np.shape(unwrap(leaf))) for leaf in leaves]
    expected = {"value": leaves, "JVP": tree_flatten(tangent)[0],
                "VJP": list(vjp(f, *args)[1](tree_unflatten(structure, cotangent)))}

    def put(values):
        return tuple(tensor(value, device=target) for value in values)
    out, tangent = jvp(f, put(args), put(directions))
    got = {"value": tree_flatten(out)[0], "JVP": tree_flatten(tangent)[0],
           "VJP": list(vjp(f, *put(args))[1](tree_unflatten(structure, list(put(cotangent)))))}
    for what, values in got.items():
        for i, (value, reference) in enumerate(zip(values, expected[what], strict=True)):
            place = devices.device_of(unwrap(value))
            if place != target:
                raise AssertionError(f"{what} {i} was computed on {place}, not on {target}")
            actual = devices.to_host(unwrap(value))
            _assert_equal_to_cpu(actual, _numeric(reference), rtol, atol, f"{what} {i} on {target}")


def _assert_equal_to_cpu(actual, expected, rtol, atol, what):
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=rtol, atol=atol):
        error = np.max(np.abs(actual - expected)) if actual.shape == expected.shape else "shape"
        raise AssertionError(f"{what} differs from the CPU's: max abs error {error}\n  got      {actual}\n"
                             f"  expected {expected}")
