"""The shared writer of experiment reports: Markdown with tables and embedded PNG figures."""

import numbers
import os
from pathlib import Path

from ..serialization import write_atomic
from ..train.curves import save_figure as write_figure


def new_figure(ncols=1, nrows=1, width=4.2, height=3.4, **kwargs):
    """A figure of ``nrows`` by ``ncols`` panels, made without pyplot: it is drawn off-screen (Agg) and
    leaves the user's matplotlib backend and open figures alone.

    Args:
        ncols: panels per row.
        nrows: rows of panels.
        width: the width of one panel, in inches.
        height: the height of one panel, in inches.
        **kwargs: passed on to ``Figure.subplots`` (``sharey``, ``squeeze``...).

    Returns:
        ``(figure, axes)`` as ``matplotlib.pyplot.subplots`` would return them.
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * ncols, height * nrows))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig, out_dir, name):
    """Write a figure as ``out_dir/name.png``.

    Args:
        fig: a ``matplotlib.figure.Figure``, e.g. from :func:`new_figure`.
        out_dir: the experiment's output directory (created if missing).
        name: the file name without its extension.

    Returns:
        The path of the PNG written.
    """
    path = Path(out_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_figure(fig, path, dpi=110, bbox_inches="tight")
    return path


def format_cell(value):
    """A table cell as text: floats to four significant digits, everything else as ``str``.

    Example:
        >>> format_cell(3.14159), format_cell(12), format_cell(2.5e-12), format_cell("SGD")
        ('3.142', '12', '2.5e-12', 'SGD')
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{float(value):.4g}"


def markdown_table(table):
    """A :class:`~chainrule.experiments.result.Table` as GitHub-flavoured Markdown.

    Example:
        >>> from chainrule.experiments.result import Table
        >>> print(markdown_table(Table("Errors", ["M", "RMS"], [[3, 0.2514]])))
        **Errors**
        <BLANKLINE>
        | M | RMS |
        |---|---|
        | 3 | 0.2514 |
    """
    lines = [f"**{table.title}**", "", "| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(format_cell(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


def write_report(experiment, result, out_dir):
    """Write ``out_dir/report.md``: the title, the claim, the headline, the tables, the notes and the
    figures (linked relative to the report, so the folder can be moved as a whole).

    Args:
        experiment: the experiment module (its ``TITLE``, ``CLAIM`` and ``NAME``).
        result: the :class:`~chainrule.experiments.result.Result` it returned.
        out_dir: the directory holding the figures; the report is written next to them.

    Returns:
        The path of the report.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"# {experiment.TITLE}", f"*Claim:* {experiment.CLAIM}", f"**Result:** {result.headline}"]
    parts += [markdown_table(table) for table in result.tables]
    parts += result.notes
    parts += [f"![{path.stem}]({Path(os.path.relpath(path, out_dir)).as_posix()})" for path in result.figures]
    parts.append(f"Reproduce with `chainrule experiment {experiment.NAME}`.")
    path = out_dir / "report.md"
    write_atomic(path, "\n\n".join(parts) + "\n")
    return path
