"""Workload ``overhead``: the cost of recording and differentiating small graphs, where per-operation
overhead dominates.

Graphs: the tiny ``(a*b + a).sum()`` on 1 and 100 elements, and chains of 20 and 1,000 elementwise
operations on 100 elements (cycling through ``×0.9``, ``+0.1``, ``tanh``, ``sin``, ``exp``), each followed
by ``.sum()`` and the gradient with respect to every input. PyTorch and chainrule call ``.backward()``
(gradients accumulate in ``.grad``, as in a loop that never zeroes them); JAX jits ``jax.grad``, which
compiles each graph into one fused kernel, so its times show dispatch rather than per-operation cost;
HIPS autograd calls ``autograd.grad``; NumPy applies the derivatives by hand.

``python -m benchmarks --only overhead`` runs it alone.
"""

import numpy as np

from benchmarks import report, timing

FRAMEWORKS = ("chainrule", "torch", "jax", "autograd", "numpy")
TINY_GOAL = 0.5
SIZE = 100


def cases(quick):
    """The same four graphs in both modes (they are fast)."""
    return [{"graph": "tiny", "size": 1}, {"graph": "tiny", "size": SIZE},
            {"graph": "chain", "length": 20, "size": SIZE}, {"graph": "chain", "length": 1000, "size": SIZE}]


def describe(case):
    """The case as a table shows it."""
    if case["graph"] == "tiny":
        return f"`(a*b + a).sum()`, {case['size']} element{'s' * (case['size'] > 1)}"
    return f"{case['length']:,}-op elementwise chain, {case['size']} elements"


def chain_steps(lib):
    """The five steps a chain cycles through; ``lib`` provides ``tanh``, ``sin`` and ``exp``."""
    return (lambda y: y * 0.9, lambda y: y + 0.1, lib.tanh, lib.sin, lib.exp)


def chain(lib, x, length):
    """``length`` elementwise operations on ``x``."""
    steps = chain_steps(lib)
    for k in range(length):
        x = steps[k % len(steps)](x)
    return x


def graph(lib, case):
    """The scalar function of the case, written once for every library with array operators."""
    if case["graph"] == "tiny":
        return lambda a, b: (a * b + a).sum()
    return lambda a: chain(lib, a, case["length"]).sum()


def inputs(case):
    """The case's float32 inputs: ``a`` and ``b`` for the tiny graph, ``a`` for a chain."""
    rng = np.random.default_rng(0)
    count = 2 if case["graph"] == "tiny" else 1
    return [rng.standard_normal(case["size"], dtype=np.float32) for _ in range(count)]


def measure_case(framework, case, budget):
    """Time one gradient computation; also record the sum of the first gradient of ``a``."""
    differentiate, first_gradient = BUILDERS[framework](case, inputs(case))
    return timing.measure(differentiate, budget) | {"gradient_sum": first_gradient}


def _chainrule(case, values):
    import chainrule as cr
    f = graph(cr, case)
    tensors = [cr.tensor(v, requires_grad=True) for v in values]
    f(*tensors).backward()
    return lambda: f(*tensors).backward(), float(tensors[0].grad.sum())


def _torch(case, values):
    import torch
    f = graph(torch, case)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    f(*tensors).backward()
    return lambda: f(*tensors).backward(), float(tensors[0].grad.sum())


def _jax(case, values):
    import jax
    import jax.numpy as jnp
    gradients = jax.jit(jax.grad(graph(jnp, case), argnums=tuple(range(len(values)))))
    arrays = [jnp.asarray(v) for v in values]
    first = float(gradients(*arrays)[0].sum())
    return lambda: jax.block_until_ready(gradients(*arrays)), first


def _autograd(case, values):
    import autograd
    import autograd.numpy as anp
    f = graph(anp, case)
    gradients = autograd.grad(lambda args: f(*args))
    values = tuple(values)
    return lambda: gradients(values), float(gradients(values)[0].sum())


def _numpy(case, values):
    gradients = _tiny_by_hand if case["graph"] == "tiny" else _chain_by_hand(case["length"])
    return lambda: gradients(*values), float(gradients(*values)[1][0].sum())


def _tiny_by_hand(a, b):
    """The value and the gradients of ``(a*b + a).sum()``."""
    total = (a * b + a).sum()
    g = np.ones_like(a)  # the cotangent of the sum, spread over the elements
    return total, (g * b + g, g * a)


# The derivatives of chain_steps, as functions of the cotangent g, the step's input x and its output y.
_CHAIN_VJPS = (lambda g, x, y: g * 0.9, lambda g, x, y: g, lambda g, x, y: g * (1 - y * y),
               lambda g, x, y: g * np.cos(x), lambda g, x, y: g * y)


def _chain_by_hand(length):
    steps = chain_steps(np)

    def value_and_gradient(a):
        values = [a]
        for k in range(length):
            values.append(steps[k % len(steps)](values[-1]))
        g = np.ones_like(a)
        for k in reversed(range(length)):
            g = _CHAIN_VJPS[k % len(steps)](g, values[k], values[k + 1])
        return values[-1].sum(), (g,)
    return value_and_gradient


BUILDERS = {"chainrule": _chainrule, "torch": _torch, "jax": _jax, "autograd": _autograd, "numpy": _numpy}


def tables(all_cases, results, frameworks=FRAMEWORKS):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        vs_torch = results.ratio("chainrule", "torch", index)
        case_goals = []
        if case["graph"] == "tiny":
            elements = f"{case['size']} element{'s' * (case['size'] > 1)}"
            case_goals.append(report.Goal(f"tiny graph, {elements}", "PyTorch", vs_torch, TINY_GOAL))
        all_goals += case_goals
        rows.append([describe(case)] + [results.time_cell(f, index) for f in frameworks]
                    + [report.format_ratio(vs_torch), ", ".join(g.target for g in case_goals) or "—",
                       report.overall_status(case_goals)])
    headers = (["graph"] + [report.FRAMEWORK_NAMES[f] for f in frameworks]
               + ["chainrule / PyTorch", "goal", "status"])
    note = ("Time per call of forward plus backward (gradients with respect to every input). "
            + report.paragraph(__doc__, 1))
    return [report.Table("Per-operation overhead", note, headers, rows, all_goals)]
