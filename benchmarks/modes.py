"""Workload ``modes``: forward against reverse mode.

Part 1, the cheap-gradient principle: one ``jvp`` and one ``vjp`` of a scalar loss with respect to all
1,068,810 parameters of an MLP 784-1024-256-10 (tanh hidden layers, mean softmax cross-entropy over a
batch of 128), each as a multiple of one evaluation of the loss. The ``jvp`` pushes a random tangent of
every parameter forward and returns the loss with its directional derivative; the ``vjp`` returns the
loss and the pulled-back cotangent 1, the full gradient. Evaluation runs without recording (chainrule:
plain tensors; PyTorch: ``no_grad``); PyTorch's transforms are ``torch.func``'s; JAX jits each function.

Part 2, full Jacobians by ``jacfwd`` (one JVP per input) and ``jacrev`` (one VJP per output) of
``f(x) = sum(tanh(W x))`` from R^n to R and of ``g(s) = tanh(W (u s))`` from R to R^m, with ``W`` of
shape (n, n) or (m, m), as n and m grow.
"""

import numpy as np

from benchmarks import models, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status, paragraph

FRAMEWORKS = ("chainrule", "jax", "torch")
MLP = (784, 1024, 256, 10)
BATCH = 128
GOALS = {"jvp": 2.5, "vjp": 3.0}
JACOBIAN_FRAMEWORKS = ("chainrule", "jax")
JACOBIAN_SIZES = (4, 16, 64, 256)


def cases(quick):
    """The MLP's transforms, then one Jacobian case per size (two sizes when ``quick``)."""
    sizes = JACOBIAN_SIZES[::2] if quick else JACOBIAN_SIZES
    return [{"part": "transforms"}] + [{"part": "jacobians", "size": n} for n in sizes]


def mlp_problem():
    """The MLP's parameters, a batch, its labels and one random tangent per parameter (all NumPy)."""
    params = models.init_params(MLP)
    x, y = models.random_batch(MLP, BATCH)
    rng = np.random.default_rng(2)
    tangents = [rng.standard_normal(p.shape, dtype=np.float32) for p in params]
    return params, x, y, tangents


def jacobian_problem(n):
    """``W`` (n, n) scaled by 1/√n, ``u`` (n,), ``x`` (n,) and the scalar ``s``, all float32."""
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    u, x = (rng.standard_normal(n, dtype=np.float32) for _ in range(2))
    return w, u, x, np.float32(0.5)


def measure_case(framework, case, budget):
    """Time the case's functions for ``framework``; ``None`` for Jacobians outside JAX and chainrule."""
    if case["part"] == "transforms":
        return _measure_all(TRANSFORMS[framework](*mlp_problem()), budget)
    if framework not in JACOBIAN_FRAMEWORKS:
        return None
    return _measure_all(JACOBIAN_BUILDERS[framework](*jacobian_problem(case["size"])), budget)


def _measure_all(functions, budget):
    """Time each named function; record a checksum of its first result, to compare frameworks."""
    measured = {}
    for name, (fn, checksum) in functions.items():
        measured[name] = timing.measure(fn, budget) | {"checksum": checksum(fn())}
    return measured


def _chainrule_transforms(params, x, y, tangents):
    import chainrule as cr
    x = cr.tensor(x)

    def loss(weights):
        return cr.softmax_cross_entropy(models.mlp_logits(weights, x, cr.tanh), y).mean()

    weights = tuple(cr.tensor(p) for p in params)
    one = np.float32(1)

    def vjp():
        value, pullback = cr.vjp(loss, weights)
        return value, pullback(one)
    return {"eval": (lambda: loss(weights), float),
            "jvp": (lambda: cr.jvp(loss, (weights,), (tuple(tangents),)), lambda out: float(out[1])),
            "vjp": (vjp, lambda out: _norm(g.data for g in out[1][0]))}


def _jax_transforms(params, x, y, tangents):
    import jax
    import jax.numpy as jnp
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(weights):
        log_probs = jax.nn.log_softmax(models.mlp_logits(weights, x, jnp.tanh))
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    def vjp(weights):
        value, pullback = jax.vjp(loss, weights)
        return value, pullback(jnp.ones_like(value))

    weights, tangents = tuple(map(jnp.asarray, params)), tuple(map(jnp.asarray, tangents))
    evaluate, jvp, vjp = jax.jit(loss), jax.jit(lambda w, t: jax.jvp(loss, (w,), (t,))), jax.jit(vjp)
    return {"eval": (lambda: evaluate(weights).block_until_ready(), float),
            "jvp": (lambda: jax.block_until_ready(jvp(weights, tangents)), lambda out: float(out[1])),
            "vjp": (lambda: jax.block_until_ready(vjp(weights)), lambda out: _norm(out[1][0]))}


def _torch_transforms(params, x, y, tangents):
    import torch
    import torch.func
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def loss(weights):
        return torch.nn.functional.cross_entropy(models.mlp_logits(weights, x, torch.tanh), y)

    def evaluate():
        with torch.no_grad():
            return loss(weights)

    def vjp():
        value, pullback = torch.func.vjp(loss, weights)
        return value, pullback(torch.ones(()))

    weights, tangents = tuple(map(torch.from_numpy, params)), tuple(map(torch.from_numpy, tangents))
    return {"eval": (evaluate, float),
            "jvp": (lambda: torch.func.jvp(loss, (weights,), (tangents,)), lambda out: float(out[1])),
            "vjp": (vjp, lambda out: _norm(g.numpy() for g in out[1][0]))}


def _norm(arrays):
    """The Euclidean norm of several arrays taken together."""
    return float(np.sqrt(sum(float(np.sum(np.square(np.asarray(a, dtype=np.float64)))) for a in arrays)))


def _total(array):
    """The sum of an array's (or a tensor's) elements, as a float."""
    return float(np.sum(np.asarray(array)))


def _chainrule_jacobians(w, u, x, s):
    import chainrule as cr
    w, u = cr.tensor(w), cr.tensor(u)

    def many_in(v):
        return cr.tanh(w @ v).sum()

    def many_out(t):
        return cr.tanh(w @ (u * t))

    return {"jacfwd_many_in": (lambda: cr.jacfwd(many_in)(x), _total),
            "jacrev_many_in": (lambda: cr.jacrev(many_in)(x), _total),
            "jacfwd_many_out": (lambda: cr.jacfwd(many_out)(s), _total),
            "jacrev_many_out": (lambda: cr.jacrev(many_out)(s), _total)}


def _jax_jacobians(w, u, x, s):
    import jax
    import jax.numpy as jnp
    w, u, x, s = map(jnp.asarray, (w, u, x, s))

    def many_in(v):
        return jnp.tanh(w @ v).sum()

    def many_out(t):
        return jnp.tanh(w @ (u * t))

    def blocking(jacobian, arg):
        compiled = jax.jit(jacobian)
        return lambda: compiled(arg).block_until_ready()

    return {"jacfwd_many_in": (blocking(jax.jacfwd(many_in), x), _total),
            "jacrev_many_in": (blocking(jax.jacrev(many_in), x), _total),
            "jacfwd_many_out": (blocking(jax.jacfwd(many_out), s), _total),
            "jacrev_many_out": (blocking(jax.jacrev(many_out), s), _total)}


TRANSFORMS = {"chainrule": _chainrule_transforms, "jax": _jax_transforms, "torch": _torch_transforms}
JACOBIAN_BUILDERS = {"chainrule": _chainrule_jacobians, "jax": _jax_jacobians}


def tables(all_cases, results):
    return [_transforms_table(results), *_jacobian_tables(all_cases, results)]


def _transforms_table(results):
    rows, all_goals = [], []
    for framework in FRAMEWORKS:
        ratios = {mode: results.ratio(framework, framework, 0, key=mode, peer_key="eval") for mode in GOALS}
        framework_goals = [Goal(f"{mode} of a 1M-parameter MLP", "one evaluation", ratios[mode], limit)
                           for mode, limit in GOALS.items()] if framework == "chainrule" else []
        all_goals += framework_goals
        goal_text = ", ".join(f"{mode} ≤ {limit}x" for mode, limit in GOALS.items()) if framework_goals \
            else "—"
        rows.append([FRAMEWORK_NAMES[framework] + (" (torch.func)" if framework == "torch" else "")]
                    + [results.time_cell(framework, 0, key) for key in ("eval", "jvp", "vjp")]
                    + [format_ratio(ratios[mode]) for mode in GOALS]
                    + [goal_text, overall_status(framework_goals)])
    headers = ["framework", "evaluation", "jvp", "vjp", "jvp / evaluation", "vjp / evaluation", "goal",
               "status"]
    note = f"{paragraph(__doc__, 1)} {checksum_agreement(results)}".rstrip()
    return Table("Forward and reverse mode: jvp and vjp against one evaluation", note, headers, rows,
                 all_goals)


def checksum_agreement(results):
    """A sentence saying how closely the frameworks' loss, ``jvp`` and gradient norm agree (a check that
    they all compute the same thing)."""
    measured = [m for m in (results.get(f, 0) for f in FRAMEWORKS) if m is not None]
    if len(measured) < 2:
        return ""
    worst = max(abs(m[key]["checksum"] - measured[0][key]["checksum"]) / abs(measured[0][key]["checksum"])
                for m in measured for key in ("eval", "jvp", "vjp"))
    return (f"Check: the loss, the jvp's directional derivative and the gradient's norm agree across "
            f"frameworks to a relative {worst:.1e}.")


def _jacobian_tables(all_cases, results):
    indexed = [(i, case["size"]) for i, case in enumerate(all_cases) if case["part"] == "jacobians"]
    note = paragraph(__doc__, 2)
    made = []
    for shape, suffix, size_name in (("R^n → R", "many_in", "n"), ("R → R^m", "many_out", "m")):
        headers = [size_name]
        for framework in JACOBIAN_FRAMEWORKS:
            headers += [f"{FRAMEWORK_NAMES[framework]} {mode}" for mode in ("jacfwd", "jacrev")]
        headers.append("chainrule jacfwd / jacrev")
        rows = []
        for index, size in indexed:
            row = [size]
            for framework in JACOBIAN_FRAMEWORKS:
                row += [results.time_cell(framework, index, f"{mode}_{suffix}")
                        for mode in ("jacfwd", "jacrev")]
            row.append(format_ratio(results.ratio("chainrule", "chainrule", index, f"jacfwd_{suffix}",
                                                  f"jacrev_{suffix}")))
            rows.append(row)
        made.append(Table(f"Full Jacobians, {shape}", note, headers, rows))
    return made
