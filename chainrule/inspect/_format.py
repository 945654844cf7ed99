"""Plain-text formatting shared by the reports: numbers, source sites and aligned tables."""

import os


def format_number(x):
    """A float in 4 significant digits, ``-`` for ``None``."""
    return "-" if x is None else f"{x:.4g}"


def format_site(site):
    """``file:line  code`` for a site ``(filename, lineno, code)``, ``-`` when unknown."""
    if site is None:
        return "-"
    return f"{os.path.basename(site[0])}:{site[1]}  {site[2]}".rstrip()


def format_table(headers, rows):
    """Rows of strings as left-aligned columns under their headers; the last column is not padded."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)
