"""Softmax and cross-entropy: the gradient ``ŷ − y`` three ways, the pushforward rule, and overflow."""

import numpy as np

import chainrule as cr

from .report import new_figure, save_figure
from .result import Result, Table

NAME = "softmax"
TITLE = "Softmax, cross-entropy and the gradient ŷ − y"
CLAIM = ("The gradient of softmax cross-entropy with respect to the logits is ŷ − y (autodiff, the formula "
         "and finite differences agree); the softmax pushforward is t ↦ s ⊙ (t − ⟨s, t⟩); the stable "
         "softmax survives logits near 1000 where the naive one overflows.")

CLASSES = 5


def _probabilities(z):
    """softmax(z) in plain NumPy, shifted by max z so that no exponent overflows."""
    e = np.exp(z - z.max())
    return e / e.sum()


def _loss(z, label):
    """Cross-entropy of softmax(z) against ``label`` in plain NumPy, for finite differences."""
    return -np.log(_probabilities(z)[label])


def _central_differences(f, z, step=1e-6):
    """∂f/∂z_i ≈ (f(z + h e_i) − f(z − h e_i)) / 2h, error O(h²) plus rounding O(ε/h)."""
    basis = np.eye(z.size) * step
    return np.array([(f(z + e) - f(z - e)) / (2 * step) for e in basis])


def _gradients(z, label):
    """The cross-entropy gradient by the fused rule, by autodiff of a composite, by formula and by
    finite differences."""
    fused = cr.grad(lambda v: cr.softmax_cross_entropy(v, np.asarray(label)))(z).numpy()
    composite = cr.grad(lambda v: cr.logsumexp(v) - v[label])(z).numpy()
    formula = _probabilities(z) - np.eye(z.size)[label]
    numeric = _central_differences(lambda v: _loss(v, label), z)
    return {"fused": fused, "composite": composite, "formula": formula, "numeric": numeric}


def _pushforward_rule(s, t):
    return s * (t - np.dot(s, t))


def _naive_softmax(z):
    e = cr.exp(z)
    return e / e.sum()


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: check the gradient at 20 random logit vectors instead of 500, over fewer shifts.
        seed: the seed of the random logits, labels and tangents.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    rng = np.random.default_rng(seed)
    draws = 20 if quick else 500
    z = rng.normal(scale=2.0, size=CLASSES)
    label = int(rng.integers(CLASSES))
    s = _probabilities(z)
    shown = _gradients(z, label)

    worst = _worst_disagreements(rng, draws)
    t = rng.normal(size=CLASSES)
    rule = _pushforward_rule(s, t)
    by_jvp = cr.jvp(cr.softmax, (z,), (t,))[1].numpy()
    by_jacfwd = cr.jacfwd(cr.softmax)(z).numpy() @ t
    naive_big, stable_big, big_grad = _overflow_at(np.array([1000.0, 999.0, 998.0]))
    shifts, naive_probs, stable_probs, first_nan = _shifted(z, 41 if quick else 401)

    metrics = {
        "max_error_fused_vs_formula": float(worst["fused"]),
        "max_error_composite_vs_formula": float(worst["composite"]),
        "max_error_numeric_vs_formula": float(worst["numeric"]),
        "max_error_pushforward_vs_jacfwd": float(worst["pushforward"]),
        "max_error_jvp_vs_rule": float(np.abs(by_jvp - rule).max()),
        "naive_finite_at_1000": bool(np.isfinite(naive_big).all()),
        "stable_sum_at_1000": float(stable_big.sum()),
        "stable_grad_error_at_1000": float(np.abs(big_grad - (stable_big - np.eye(3)[0])).max()),
        "naive_first_nan_shift": float(first_nan),
        "draws": draws,
    }
    tables = [
        Table("Logits to probabilities and the gradient of the cross-entropy (label "
              f"{label}): four routes", ["class", "logit z", "ŷ = softmax(z)", "y", "fused rule",
                                         "autodiff of logsumexp(z) − z_y", "ŷ − y", "finite differences"],
              [[k, z[k], s[k], int(k == label), shown["fused"][k], shown["composite"][k],
                shown["formula"][k], shown["numeric"][k]] for k in range(CLASSES)]),
        Table(f"Largest disagreement with ŷ − y over {draws} random logit vectors",
              ["route", "max |error|"],
              [["fused softmax_cross_entropy rule", worst["fused"]],
               ["autodiff through logsumexp and indexing", worst["composite"]],
               ["central finite differences, h = 1e-6", worst["numeric"]]]),
        Table("The softmax pushforward along a random tangent t",
              ["class", "t", "s ⊙ (t − ⟨s, t⟩)", "jvp(softmax)", "jacfwd(softmax) · t"],
              [[k, t[k], rule[k], by_jvp[k], by_jacfwd[k]] for k in range(CLASSES)]),
        Table("Logits [1000, 999, 998]: exp overflows in the naive softmax",
              ["softmax", "p₁", "p₂", "p₃", "sum"],
              [["naive exp(z) / Σ exp(z)", *naive_big, naive_big.sum()],
               ["stable exp(z − max z) / Σ exp(z − max z)", *stable_big, stable_big.sum()]]),
    ]
    notes = [f"The pushforward rule agrees with `jacfwd` to {worst['pushforward']:.1e} over {draws} draws. "
             f"The cross-entropy gradient at logits [1000, 999, 998] is still ŷ − y (error "
             f"{metrics['stable_grad_error_at_1000']:.1e}), because the fused rule never forms exp(1000)."]

    figures = [_figure(out_dir, shown, (rule, by_jvp, by_jacfwd), shifts, (stable_probs, naive_probs),
                       first_nan)]

    headline = (f"∂ cross-entropy / ∂ logits = ŷ − y to {max(worst['fused'], worst['composite']):.0e} by "
                f"autodiff and {worst['numeric']:.0e} by finite differences over {draws} draws; the naive "
                f"softmax turns NaN once the logits are shifted by {first_nan:.0f}, the stable one never "
                "does.")
    return Result(headline, tables, figures, metrics, notes)


def _worst_disagreements(rng, draws):
    """The largest error of each gradient route against ŷ − y, and of the pushforward rule against
    ``jacfwd``, over ``draws`` random logit vectors."""
    worst = {"fused": 0.0, "composite": 0.0, "numeric": 0.0, "pushforward": 0.0}
    for _ in range(draws):
        zi = rng.normal(scale=3.0, size=CLASSES)
        grads = _gradients(zi, int(rng.integers(CLASSES)))
        for key in ("fused", "composite", "numeric"):
            worst[key] = max(worst[key], np.abs(grads[key] - grads["formula"]).max())
        t = rng.normal(size=CLASSES)
        by_jacfwd = cr.jacfwd(cr.softmax)(zi).numpy() @ t
        worst["pushforward"] = max(worst["pushforward"],
                                   np.abs(_pushforward_rule(_probabilities(zi), t) - by_jacfwd).max())
    return worst


def _overflow_at(big):
    """The naive and the stable softmax of large logits, and the fused loss's gradient there."""
    with np.errstate(over="ignore", invalid="ignore"):
        naive = _naive_softmax(cr.tensor(big)).numpy()
    stable = cr.softmax(cr.tensor(big)).numpy()
    gradient = cr.grad(lambda v: cr.softmax_cross_entropy(v, np.asarray(0)))(big).numpy()
    return naive, stable, gradient


def _shifted(z, count):
    """Both softmaxes of ``z + c`` for ``count`` shifts c in [0, 1000], and the first c where the
    naive one is NaN."""
    shifts = np.linspace(0, 1000, count)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.array([_naive_softmax(cr.tensor(z + c)).numpy() for c in shifts])
    stable = np.array([cr.softmax(cr.tensor(z + c)).numpy() for c in shifts])
    return shifts, naive, stable, shifts[~np.isfinite(naive).all(axis=1)].min()


def _figure(out_dir, shown, pushforwards, shifts, probabilities, first_nan):
    """The gradient routes, the pushforwards and the shifted softmaxes, side by side."""
    stable_probs, naive_probs = probabilities
    fig, (ax_grad, ax_push, ax_over) = new_figure(3, width=4.4)
    x = np.arange(CLASSES)
    for offset, (key, label_text) in zip((-0.27, -0.09, 0.09, 0.27),
                                         [("fused", "fused rule"), ("composite", "autodiff"),
                                          ("formula", "ŷ − y"), ("numeric", "finite diff.")], strict=True):
        ax_grad.bar(x + offset, shown[key], width=0.18, label=label_text)
    ax_grad.set(title="∂ loss / ∂ logits, four ways", xlabel="class", xticks=x)
    ax_grad.axhline(0, color="black", lw=0.5)
    ax_grad.legend(fontsize=7)
    labels = ("s ⊙ (t − ⟨s,t⟩)", "jvp", "jacfwd · t")
    for offset, values, label_text in zip((-0.2, 0, 0.2), pushforwards, labels, strict=True):
        ax_push.bar(x + offset, values, width=0.2, label=label_text)
    ax_push.set(title="softmax pushforward of t", xlabel="class", xticks=x)
    ax_push.axhline(0, color="black", lw=0.5)
    ax_push.legend(fontsize=7)
    for k in range(CLASSES):
        ax_over.plot(shifts, stable_probs[:, k], lw=3, color=f"C{k}", alpha=0.5)
        ax_over.plot(shifts, naive_probs[:, k], ":", lw=1.5, color=f"C{k}")
    ax_over.axvspan(first_nan, shifts[-1], color="red", alpha=0.12)
    ax_over.annotate(f"naive: NaN\nfrom c = {first_nan:.0f}", (first_nan, 0.9), xytext=(5, 0),
                     textcoords="offset points", fontsize=8)
    ax_over.set(title="softmax(z + c): stable (thick), naive (dotted)",
                xlabel="shift c added to every logit", ylabel="probability", ylim=(0, 1.05))
    return save_figure(fig, out_dir, "softmax")
