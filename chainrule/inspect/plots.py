"""Pictures of gradient flow over training (matplotlib, drawn off-screen: no display needed)."""

from .. import backend

_LEGEND_LIMIT = 8


def plot_gradient_flow(history, path=None, title=None):
    """Gradient norm by layer over training: one curve per logged step across the layers (left), and
    one curve per layer across the steps (right), on log scales.

    Args:
        history: ``(step, FlowReport)`` pairs, such as :attr:`GradientFlowCallback.history`.
        path: where to write the picture as PNG (optional).
        title: a title above both panels (optional).

    Returns:
        The :class:`matplotlib.figure.Figure`. Layers are the weight matrices (parameters with two or
        more axes), or every parameter when there are none; zero norms are left out of the log scale.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    xp = backend.xp
    if not history:
        raise ValueError("plot_gradient_flow(): history is empty; log at least one report first")
    steps = [step for step, _ in history]
    names = _layer_names(history[-1][1])
    norms = xp.array([[report.grad_norms().get(name, xp.nan) for name in names] for _, report in history],
                     dtype=float)
    norms[norms <= 0] = xp.nan

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    by_layer, over_steps = figure.subplots(1, 2)
    step_colours = Normalize(min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1)
    viridis, plasma = matplotlib.colormaps["viridis"], matplotlib.colormaps["plasma"]
    for step, row in zip(steps, norms, strict=True):
        by_layer.plot(range(len(names)), row, marker="o", markersize=3, color=viridis(step_colours(step)))
    by_layer.set(yscale="log", title="Gradient norm by layer", xlabel="layer (input to output)",
                 ylabel="gradient norm")
    by_layer.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    figure.colorbar(ScalarMappable(step_colours, viridis), ax=by_layer, label="training step")

    depth = Normalize(0, max(len(names) - 1, 1))
    for j, name in enumerate(names):
        over_steps.plot(steps, norms[:, j], color=plasma(depth(j)) if len(names) > 1 else None, label=name)
    over_steps.set(yscale="log", title="Gradient norm over training", xlabel="training step",
                   ylabel="gradient norm")
    if len(names) <= _LEGEND_LIMIT:
        over_steps.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    else:
        figure.colorbar(ScalarMappable(depth, plasma), ax=over_steps, label="layer index")
    if title is not None:
        figure.suptitle(title)
    if path is not None:
        from ..train.curves import save_figure
        save_figure(figure, path, dpi=120)
    return figure


def _layer_names(report):
    weights = [row["name"] for row in report.rows if len(row["shape"]) >= 2]
    return weights or [row["name"] for row in report.rows]
