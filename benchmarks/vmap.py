"""Workload ``vmap``: batched transforms against their peers.

Jacobians at n = m = 256 of ``f(x) = sum(tanh(W x))`` (R^n → R) and ``g(s) = tanh(W (u s))`` (R → R^m),
float32: chainrule's ``jacfwd`` and ``jacrev`` (one batched pass through ``vmap``) against JAX's, jitted.
Per-example gradients of an MLP 784-256-10 (ReLU, softmax cross-entropy of one example) over a batch
of 64, float32: ``vmap(grad(loss), in_axes=(None, 0, 0))`` against ``torch.func.vmap(torch.func.grad)``.
And ``vmap`` of the tiny graph ``(a*b + a).sum()`` over 64 examples of 8 values against a Python loop
calling it on each example. Goals: Jacobians ≤ 3x JAX jit, per-example gradients ≤ 1.5x torch.func,
the tiny graph's vmap ≥ 10x faster than the loop.
"""

import numpy as np

from benchmarks import models, modes, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "jax", "torch")
SIZE = 256
MLP = (784, 256, 10)
BATCH = 64
TINY = (64, 8)
GOALS = {"jacobians": 3.0, "per_example": 1.5, "tiny": 0.1}
PEERS = {"jacobians": "jax", "per_example": "torch", "tiny": "chainrule"}


def cases(quick):
    return [{"part": "jacobians"}, {"part": "per_example"}, {"part": "tiny"}]


def measure_case(framework, case, budget):
    builders = BUILDERS[case["part"]]
    if framework not in builders:
        return None
    measured = {}
    for name, (fn, checksum) in builders[framework]().items():
        measured[name] = timing.measure(fn, budget) | {"checksum": checksum(fn())}
    return measured


def _total(out):
    leaves = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else [out]
    return float(sum(np.sum(np.asarray(getattr(leaf, "data", leaf), dtype=np.float64)) for leaf in leaves))


def _jacobians(framework):
    """The Jacobian problems of ``benchmarks.modes`` at n = m = SIZE (one definition for both benchmarks)."""
    return lambda: modes.JACOBIAN_BUILDERS[framework](*modes.jacobian_problem(SIZE))


def _mlp_problem():
    """PyTorch-layout weights ``(out, in)`` and biases, a batch and its labels, float32."""
    params = models.init_params(MLP)
    weights = [np.ascontiguousarray(p.T) if p.ndim == 2 else p for p in params]
    x, y = models.random_batch(MLP, BATCH)
    return weights, x, y


def _chainrule_per_example():
    import chainrule as cr
    weights, x, y = _mlp_problem()
    params = [cr.tensor(p) for p in weights]

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logits = cr.linear(cr.relu(cr.linear(x, w1, b1)), w2, b2)
        return cr.softmax_cross_entropy(logits, y)
    per_example = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))
    return {"per_example": (lambda: per_example(params, x, y), _total)}


def _torch_per_example():
    import torch
    import torch.func
    weights, x, y = _mlp_problem()
    params = [torch.from_numpy(p) for p in weights]
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logits = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(x, w1, b1)), w2, b2)
        return torch.nn.functional.cross_entropy(logits[None], y[None])
    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    return {"per_example": (lambda: per_example(params, x, y), lambda out: _total([g.numpy() for g in out]))}


def _chainrule_tiny():
    import chainrule as cr
    rng = np.random.default_rng(4)
    a, b = (cr.tensor(rng.standard_normal(TINY)) for _ in range(2))

    def tiny(a, b):
        return (a * b + a).sum()
    batched = cr.vmap(tiny)

    def loop():
        return cr.stack([tiny(a[i], b[i]) for i in range(TINY[0])])
    return {"vmap": (lambda: batched(a, b), _total), "loop": (loop, _total)}


BUILDERS = {"jacobians": {"chainrule": _jacobians("chainrule"), "jax": _jacobians("jax")},
            "per_example": {"chainrule": _chainrule_per_example, "torch": _torch_per_example},
            "tiny": {"chainrule": _chainrule_tiny}}


def tables(all_cases, results):
    rows, goals = [], []
    for key, label in (("jacfwd_many_in", "jacfwd of sum(tanh(W x)), n = 256"),
                       ("jacrev_many_in", "jacrev of sum(tanh(W x)), n = 256"),
                       ("jacfwd_many_out", "jacfwd of tanh(W (u s)), m = 256"),
                       ("jacrev_many_out", "jacrev of tanh(W (u s)), m = 256")):
        ratio = results.ratio("chainrule", "jax", 0, key)
        goals.append(Goal(label, "JAX jit", ratio, GOALS["jacobians"]))
        rows.append([label, results.time_cell("chainrule", 0, key), results.time_cell("jax", 0, key),
                     FRAMEWORK_NAMES["jax"], format_ratio(ratio), f"≤ {GOALS['jacobians']}x",
                     overall_status(goals[-1:])])
    ratio = results.ratio("chainrule", "torch", 1, "per_example")
    goals.append(Goal("per-example gradients, MLP 784-256-10, batch 64", "torch.func", ratio,
                      GOALS["per_example"]))
    rows.append(["per-example gradients, MLP 784-256-10, batch 64",
                 results.time_cell("chainrule", 1, "per_example"), results.time_cell("torch", 1, "per_example"),
                 "torch.func.vmap(grad)", format_ratio(ratio), f"≤ {GOALS['per_example']}x",
                 overall_status(goals[-1:])])
    ratio = results.ratio("chainrule", "chainrule", 2, "vmap", "loop")
    goals.append(Goal("vmap of (a*b + a).sum(), 64 examples", "the Python loop", ratio, GOALS["tiny"]))
    rows.append(["vmap of (a*b + a).sum(), 64 examples", results.time_cell("chainrule", 2, "vmap"),
                 results.time_cell("chainrule", 2, "loop"), "Python loop over the examples",
                 format_ratio(ratio), f"≤ {GOALS['tiny']}x (10x faster)", overall_status(goals[-1:])])
    headers = ["workload", "chainrule", "peer", "peer is", "chainrule / peer", "goal", "status"]
    return [Table("vmap: Jacobians, per-example gradients, a tiny graph", __doc__.split("\n\n", 1)[1].strip()
                  .replace("\n", " "), headers, rows, goals)]
