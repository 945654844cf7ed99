"""Bishop's polynomial curve fitting (PRML §1.1), fitted by chainrule's own Newton step."""

import numpy as np

import chainrule as cr
from chainrule.data import load_dataset

from .report import new_figure, save_figure
from .result import Result, Table

NAME = "overfitting"
TITLE = "Overfitting: Bishop's polynomial curve fitting"
CLAIM = ("A polynomial of order M = 9 through ten noisy points of sin(2πx) drives the training error to zero "
         "while its test error exceeds that of M = 3; an L2 penalty (ln λ = −18) tames it. The fit by "
         "chainrule.hessian and chainrule.grad agrees with closed-form least squares.")

ORDERS = (0, 1, 3, 9)
NEWTON_STEPS = 5


def features(x, order):
    """The design matrix Φ with columns x⁰, x¹, ..., x^order."""
    return np.asarray(x)[:, None] ** np.arange(order + 1)


def newton_fit(phi, t, lam=0.0, steps=NEWTON_STEPS):
    """Minimise E(w) = ½‖Φw − t‖²/N + ½λ‖w‖² by Newton steps w ← w − H⁻¹∇E, with H and ∇E from chainrule.

    The squared error is averaged over the N points: with that convention the penalised coefficients
    come out as in PRML's Table 1.2 (with the sum, λ would be N times larger). E is quadratic, so the
    first step from w = 0 lands on the minimum in exact arithmetic; the later steps only refine away
    the rounding error of solving with an ill-conditioned Hessian.

    Args:
        phi: the design matrix, shape (N, M + 1).
        t: the targets, shape (N,).
        lam: the L2 penalty λ.
        steps: the number of Newton steps.

    Returns:
        ``(w after each step, the Hessian)``.
    """
    design = cr.tensor(phi)

    def error(w):
        residual = design @ w - t
        return 0.5 * (residual * residual).mean() + 0.5 * lam * (w * w).sum()

    w = np.zeros(phi.shape[1])
    hess = cr.hessian(error)(w).numpy()
    history = []
    for _ in range(steps):
        w = w - np.linalg.solve(hess, cr.grad(error)(w).numpy())
        history.append(w)
    return history, hess


def least_squares_fit(phi, t, lam=0.0):
    """The closed form: least squares on Φ stacked over √(Nλ)·I, which minimises the same E(w)."""
    size = phi.shape[1]
    stacked = np.vstack([phi, np.sqrt(len(phi) * lam) * np.eye(size)])
    return np.linalg.lstsq(stacked, np.concatenate([t, np.zeros(size)]), rcond=None)[0]


def rms(phi, w, t):
    """E_RMS = √(mean (Φw − t)²): the root-mean-square error, without the penalty."""
    return float(np.sqrt(np.mean((phi @ w - t) ** 2)))


def _relative_gap(w, reference):
    return float(np.abs(w - reference).max() / np.abs(reference).max())


def _coefficient_table(title, fits, labels):
    size = max(len(w) for w in fits)
    rows = [[f"w{j}*", *(f"{w[j]:.2f}" if j < len(w) else "" for w in fits)] for j in range(size)]
    return Table(title, ["", *labels], rows)


def _draw_fit(ax, w, title, x_train, t_train):
    grid = np.linspace(0, 1, 200)
    ax.plot(grid, np.sin(2 * np.pi * grid), color="tab:green", lw=1.5)
    ax.plot(grid, features(grid, len(w) - 1) @ w, color="tab:red", lw=1.5)
    ax.plot(x_train, t_train, "o", mfc="none", mec="tab:blue", ms=7)
    ax.set(xlim=(-0.05, 1.05), ylim=(-1.5, 1.5), xlabel="x", ylabel="t")
    ax.set_title(title)


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: sweep 9 values of ln λ instead of 41.
        seed: the seed of the 100 test points of ``load_dataset("curve")``.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    curve = load_dataset("curve", seed=seed)
    x_train, t_train, x_test, t_test = (a[:, 0].astype(np.float64) for a in
                                        (curve.x_train, curve.y_train, curve.x_test, curve.y_test))

    all_orders = range(10)
    fits, gaps, conditions = _fits_by_order(x_train, t_train, all_orders)
    train_rms = {m: rms(features(x_train, m), fits[m], t_train) for m in all_orders}
    test_rms = {m: rms(features(x_test, m), fits[m], t_test) for m in all_orders}

    phi9_train, phi9_test = features(x_train, 9), features(x_test, 9)
    penalised = {}
    for ln_lam in (-18.0, 0.0):
        history, _ = newton_fit(phi9_train, t_train, np.exp(ln_lam))
        penalised[ln_lam] = history[-1]
        exact = least_squares_fit(phi9_train, t_train, np.exp(ln_lam))
        gaps[f"9, ln λ = {ln_lam:g}"] = [_relative_gap(w, exact) for w in history]
    ln_lams = np.linspace(-40, 0, 9 if quick else 41)
    sweep = [newton_fit(phi9_train, t_train, np.exp(ln_lam))[0][-1] for ln_lam in ln_lams]
    sweep_train = [rms(phi9_train, w, t_train) for w in sweep]
    sweep_test = [rms(phi9_test, w, t_test) for w in sweep]

    metrics = {
        "train_rms": train_rms,
        "test_rms": test_rms,
        "penalised_train_rms": {k: rms(phi9_train, w, t_train) for k, w in penalised.items()},
        "penalised_test_rms": {k: rms(phi9_test, w, t_test) for k, w in penalised.items()},
        "max_relative_gap_to_lstsq": max(g[-1] for g in gaps.values()),
        "first_step_gap_m9": gaps[9][0],
        "hessian_condition_m9": conditions[9],
        "coefficients": {m: fits[m].tolist() for m in ORDERS},
    }
    tables = [
        _coefficient_table("Table 1.1 of PRML: coefficients w* for polynomials of increasing order",
                           [fits[m] for m in ORDERS], [f"M = {m}" for m in ORDERS]),
        _coefficient_table("Table 1.2 of PRML: coefficients of M = 9 with an L2 penalty",
                           [fits[9], penalised[-18.0], penalised[0.0]],
                           ["ln λ = −∞", "ln λ = −18", "ln λ = 0"]),
        Table("Root-mean-square error against the order M (10 training points, 100 test points)",
              ["M", "train E_RMS", "test E_RMS", "cond(H)"],
              [[m, train_rms[m], test_rms[m], conditions[m]] for m in all_orders]),
        Table("Newton steps with chainrule.hessian and chainrule.grad against numpy.linalg.lstsq: "
              "max |w − w_lstsq| / max |w_lstsq| after each step",
              ["fit", *(f"step {k + 1}" for k in range(NEWTON_STEPS))],
              [[f"M = {key}", *gap] for key, gap in gaps.items()]),
    ]
    notes = [f"One Newton step is exact for a quadratic error, and so it is up to rounding: the Hessian "
             f"ΦᵀΦ/N of M = 9 has condition number {conditions[9]:.1e}, so the first step is off by "
             f"{gaps[9][0]:.1e} (relative) and {NEWTON_STEPS - 1} more steps refine it to "
             f"{gaps[9][-1]:.1e}. Every fit agrees with least squares to "
             f"{metrics['max_relative_gap_to_lstsq']:.1e}."]

    figures = _figures(out_dir, (x_train, t_train), fits, penalised,
                       (list(all_orders), train_rms, test_rms), (ln_lams, sweep_train, sweep_test))

    headline = (f"M = 9 fits the ten points to train E_RMS {train_rms[9]:.1e} but test E_RMS "
                f"{test_rms[9]:.2f} against {test_rms[3]:.2f} for M = 3; ln λ = −18 brings M = 9 to "
                f"{metrics['penalised_test_rms'][-18.0]:.2f}. chainrule's Newton fit matches least squares "
                f"to {metrics['max_relative_gap_to_lstsq']:.0e}.")
    return Result(headline, tables, figures, metrics, notes)


def _fits_by_order(x_train, t_train, orders):
    """Newton fits of each polynomial order: final weights, the gap to least squares after each step,
    and the Hessian's condition number."""
    fits, gaps, conditions = {}, {}, {}
    for order in orders:
        history, hess = newton_fit(features(x_train, order), t_train)
        fits[order] = history[-1]
        exact = least_squares_fit(features(x_train, order), t_train)
        gaps[order] = [_relative_gap(w, exact) for w in history]
        conditions[order] = float(np.linalg.cond(hess))
    return fits, gaps, conditions


def _figures(out_dir, training, fits, penalised, by_order, by_penalty):
    """The fits of Figure 1.4, the error against the order and the penalty, and the penalised fits."""
    x_train, t_train = training
    orders, train_rms, test_rms = by_order
    ln_lams, sweep_train, sweep_test = by_penalty
    figures = []
    fig, axes = new_figure(2, 2, width=3.6, height=2.8, squeeze=False)
    for ax, m in zip(axes.flat, ORDERS, strict=True):
        _draw_fit(ax, fits[m], f"M = {m}", x_train, t_train)
    fig.tight_layout()
    figures.append(save_figure(fig, out_dir, "overfitting_fits"))

    fig, (ax_m, ax_lam) = new_figure(2)
    ax_m.plot(orders, list(train_rms.values()), "o-", mfc="none", label="Training")
    ax_m.plot(orders, list(test_rms.values()), "o-", mfc="none", color="tab:red", label="Test")
    ax_m.set(xlabel="M", ylabel="E_RMS", ylim=(0, 1.05), title="error against the order")
    ax_m.legend()
    ax_lam.plot(ln_lams, sweep_train, label="Training")
    ax_lam.plot(ln_lams, sweep_test, color="tab:red", label="Test")
    ax_lam.set(xlabel="ln λ", ylabel="E_RMS", ylim=(0, 1.05), title="M = 9 against the penalty")
    ax_lam.legend()
    fig.tight_layout()
    figures.append(save_figure(fig, out_dir, "overfitting_rms"))

    fig, axes = new_figure(2, width=3.6, height=2.8)
    for ax, (ln_lam, w) in zip(axes, penalised.items(), strict=True):
        _draw_fit(ax, w, f"M = 9, ln λ = {ln_lam:g}", x_train, t_train)
    fig.tight_layout()
    figures.append(save_figure(fig, out_dir, "overfitting_penalty"))
    return figures
