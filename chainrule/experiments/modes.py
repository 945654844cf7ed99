"""Forward against reverse mode: whole Jacobians of R^n → R and R → R^m, and one JVP or VJP against one
evaluation."""

import time

import numpy as np

import chainrule as cr

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "modes"
TITLE = "Why reverse mode fits deep learning"
CLAIM = ("A whole Jacobian costs one pass per input in forward mode and one per output in reverse mode: "
         "reverse mode wins for R^n → R (a loss of many parameters), forward mode for R → R^m; one VJP "
         "or JVP costs a small multiple of one evaluation.")


def scalar_output(x):
    """f: R^n → R, the shape of a loss."""
    return cr.sum(cr.tanh(x) * cr.sin(x) + x * x)


def vector_output(s, a, b):
    """g: R → R^m, the shape of a curve sampled at m points."""
    return cr.tanh(s * a) * cr.sin(s * b) + s * s


def best_time(f, repeats):
    """The fastest of ``repeats`` timed calls of ``f()``, in seconds (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def by_jvps(f, x):
    """The Jacobian of ``f`` at ``x`` as forward mode counts it: one JVP per input direction, one after
    the other (``chainrule.jacfwd`` does the same passes as one batched pass through ``vmap``)."""
    x = np.asarray(x, dtype=np.float64)
    columns = [cr.jvp(f, (x,), (e.reshape(x.shape),))[1].numpy() for e in np.eye(x.size)]
    return np.stack(columns, axis=-1).reshape(columns[0].shape + x.shape)


def by_vjps(f, x):
    """The Jacobian of ``f`` at ``x`` as reverse mode counts it: one VJP per output element."""
    out, pull = cr.vjp(f, np.asarray(x, dtype=np.float64))
    rows = [pull(e.reshape(out.shape))[0].numpy() for e in np.eye(out.size)]
    return np.stack(rows).reshape(out.shape + np.shape(x))


def _jacobian_times(sizes, repeats, rng):
    """Seconds per whole Jacobian by one JVP per input and one VJP per output, for f: R^n → R and
    g: R → R^m; and the largest disagreement between the two modes."""
    rows, worst = [], 0.0
    for size in progress(sizes, "Jacobians"):
        x = rng.normal(size=size)
        a, b = rng.normal(size=size), rng.normal(size=size)
        s = np.float64(rng.normal())

        def curve(v, a=a, b=b):
            return vector_output(v, a, b)

        for name, f, arg in (("R^n → R", scalar_output, x), ("R → R^m", curve, s)):
            fwd, rev = by_jvps(f, arg), by_vjps(f, arg)
            worst = max(worst, float(np.abs(fwd - rev).max()))
            rows.append((name, size, best_time(lambda f=f, arg=arg: by_jvps(f, arg), repeats),
                         best_time(lambda f=f, arg=arg: by_vjps(f, arg), repeats)))
    return rows, worst


def _pass_times(sizes, repeats, rng):
    """Seconds for one evaluation, one JVP and one VJP of f: R^n → R."""
    rows = []
    for size in progress(sizes, "JVP and VJP"):
        x, t = rng.normal(size=size), rng.normal(size=size)
        evaluation = best_time(lambda x=x: scalar_output(cr.tensor(x)), repeats)
        push = best_time(lambda x=x, t=t: cr.jvp(scalar_output, (x,), (t,)), repeats)
        pull = best_time(lambda x=x: cr.vjp(scalar_output, x)[1](np.float64(1.0)), repeats)
        rows.append((size, evaluation, push, pull))
    return rows


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: Jacobians up to n = 64 and passes up to n = 10⁴, instead of 1024 and 10⁶.
        seed: the seed of the random points.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    rng = np.random.default_rng(seed)
    jacobian_sizes = [1, 4, 16, 64] if quick else [2 ** k for k in range(11)]
    pass_sizes = [10, 10 ** 2, 10 ** 3, 10 ** 4] if quick else [10 ** k for k in range(1, 7)]
    repeats = 3 if quick else 7
    jacobians, worst = _jacobian_times(jacobian_sizes, repeats, rng)
    passes = _pass_times(pass_sizes, repeats, rng)

    largest = jacobian_sizes[-1]
    by_key = {(name, size): (fwd, rev) for name, size, fwd, rev in jacobians}
    fwd_n, rev_n = by_key[("R^n → R", largest)]
    fwd_m, rev_m = by_key[("R → R^m", largest)]
    _, big_eval, big_jvp, big_vjp = passes[-1]
    metrics = {
        "largest_size": largest,
        "rev_speedup_scalar_output": fwd_n / rev_n,
        "fwd_speedup_vector_output": rev_m / fwd_m,
        "max_jacobian_disagreement": worst,
        "jvp_over_eval": big_jvp / big_eval,
        "vjp_over_eval": big_vjp / big_eval,
        "pass_size": pass_sizes[-1],
    }
    tables = [
        Table("Milliseconds per whole Jacobian (best of several runs)",
              ["function", "n or m", "jacfwd", "jacrev", "jacfwd / jacrev"],
              [[name, size, 1e3 * fwd, 1e3 * rev, fwd / rev]
               for name, size, fwd, rev in sorted(jacobians, key=lambda row: row[0] != "R^n → R")]),
        Table("One evaluation, one JVP and one VJP of f: R^n → R, milliseconds",
              ["n", "f(x)", "jvp", "vjp", "jvp / f", "vjp / f"],
              [[size, 1e3 * ev, 1e3 * push, 1e3 * pull, push / ev, pull / ev]
               for size, ev, push, pull in passes]),
    ]
    notes = [f"The two modes agree to {worst:.1e}. Each Jacobian is built pass by pass (jacfwd: one JVP "
             "per input; jacrev: one VJP per output), as the modes count them. At small sizes every "
             "pass costs the same Python overhead, so the modes tie; as n grows jacfwd pays one JVP per "
             "input and falls behind, and the mirror image happens for m outputs. A network's loss is "
             "R^n → R with n in the millions: one reverse pass gives the whole gradient. (chainrule's "
             "own jacfwd and jacrev run those passes as one batched pass through vmap: the arithmetic "
             "is the same, the per-pass Python overhead is paid once.)"]

    fig, axes = new_figure(3, width=4.0)
    for ax, name, label in ((axes[0], "R^n → R", "n inputs"), (axes[1], "R → R^m", "m outputs")):
        sizes = [size for key, size, _, _ in jacobians if key == name]
        ax.loglog(sizes, [by_key[(name, n)][0] for n in sizes], "o-", label="jacfwd (forward)")
        ax.loglog(sizes, [by_key[(name, n)][1] for n in sizes], "s-", label="jacrev (reverse)")
        ax.set(title=f"whole Jacobian of {name}", xlabel=label, ylabel="seconds")
        ax.legend(fontsize=8)
    sizes = [row[0] for row in passes]
    for column, label in ((1, "f(x)"), (2, "one JVP"), (3, "one VJP")):
        axes[2].loglog(sizes, [row[column] for row in passes], "o-", label=label)
    axes[2].set(title="one pass of f: R^n → R", xlabel="n", ylabel="seconds")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    figures = [save_figure(fig, out_dir, "modes")]

    headline = (f"At n = m = {largest}, jacrev builds the gradient of R^n → R "
                f"{metrics['rev_speedup_scalar_output']:.0f}x faster than jacfwd, and jacfwd the derivative "
                f"of R → R^m {metrics['fwd_speedup_vector_output']:.0f}x faster than jacrev; at "
                f"n = {pass_sizes[-1]:,} one VJP costs {metrics['vjp_over_eval']:.1f} evaluations and one "
                f"JVP {metrics['jvp_over_eval']:.1f}.")
    return Result(headline, tables, figures, metrics, notes)
