"""What an experiment hands back: its headline, its tables, its figures and the numbers it measured."""

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class Table:
    """A table for the report.

    Args:
        title: a one-line caption.
        columns: the column headers.
        rows: one list of cells per row, as many cells as ``columns``.
    """

    title: str
    columns: list
    rows: list

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: row {row!r} has {len(row)} cells for "
                                 f"{len(self.columns)} columns {self.columns!r}")


@dataclasses.dataclass
class Result:
    """The outcome of one experiment run.

    Args:
        headline: the one-sentence result printed by the command line.
        tables: the :class:`Table` s of the report, in order.
        figures: paths of the PNG figures written, the first being the one the README shows.
        metrics: the measured numbers the claim rests on, by name (what the tests assert on).
        notes: paragraphs of the report that read the tables.
    """

    headline: str
    tables: list = dataclasses.field(default_factory=list)
    figures: list = dataclasses.field(default_factory=list)
    metrics: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.figures = [Path(path) for path in self.figures]
