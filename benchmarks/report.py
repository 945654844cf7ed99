"""Tables of results, goals checked against ratios, and the Markdown and JSON writers."""

import dataclasses
import json

FRAMEWORK_NAMES = {"chainrule": "chainrule", "compiled": "chainrule compiled", "train": "chainrule train's loop",
                   "torch": "PyTorch eager", "jax": "JAX jit", "autograd": "HIPS autograd", "numpy": "NumPy by hand"}
"""How each framework is named in the tables."""

SPREAD_NOTE = ("Times are medians per call; ± is half the interquartile range of the repeats, relative to "
               "the median. Ratios divide medians measured in this run.")


@dataclasses.dataclass
class Goal:
    """A goal ``subject`` must meet: its time (or memory) at most ``limit`` times ``peer``'s.

    ``ratio`` is the measured ratio, ``None`` when it could not be measured.
    """
    subject: str
    peer: str
    ratio: float | None
    limit: float

    @property
    def target(self):
        """The goal as a table's cell shows it: ``≤ 0.9x PyTorch``."""
        return f"≤ {self.limit}x {self.peer}"

    @property
    def description(self):
        return f"{self.subject}: {self.target}"

    @property
    def status(self):
        """``met``, ``MISSED`` or ``n/a`` (a peer missing or a run failing)."""
        if self.ratio is None:
            return "n/a"
        return "met" if self.ratio <= self.limit else "MISSED"


@dataclasses.dataclass
class Table:
    """One table of the report.

    Attributes:
        title: the heading.
        note: a paragraph under the heading (what is measured, the units, the goal).
        headers: the column names.
        rows: lists of cell strings, one per header.
        goals: the goals this table checks, gathered into the report's headline.
    """
    title: str
    note: str
    headers: list
    rows: list
    goals: list = dataclasses.field(default_factory=list)


class Results:
    """One workload's measurements: per framework a status and one entry per case (``None`` when the
    framework does not run that case).

    Args:
        by_framework: ``{framework: {"status": "ok" | "missing" | "error", "reason": str,
            "cases": [dict or None, ...]}}`` as the workers report them.
    """

    def __init__(self, by_framework):
        self.by_framework = by_framework

    def status(self, framework):
        """``ok``, ``missing``, ``error``, or ``not run`` for a framework the workload does not run."""
        return self.by_framework.get(framework, {"status": "not run"})["status"]

    def get(self, framework, index):
        """The measurement of ``framework`` on case ``index``, or ``None``."""
        outcome = self.by_framework.get(framework, {})
        if outcome.get("status") != "ok":
            return None
        return outcome["cases"][index]

    def value(self, framework, index, key=None):
        """A measured number: the median of a timing, or a plain value; ``key`` picks one of several
        measurements of a case."""
        measurement = self.get(framework, index)
        if measurement is None:
            return None
        if key is not None:
            measurement = measurement[key]
        return measurement["median_s"] if isinstance(measurement, dict) else measurement

    def ratio(self, framework, peer, index, key=None, peer_key=None):
        """``framework``'s value over ``peer``'s on case ``index`` (``peer_key`` defaults to ``key``),
        or ``None`` if either is absent."""
        return ratio(self.value(framework, index, key),
                     self.value(peer, index, key if peer_key is None else peer_key))

    def time_cell(self, framework, index, key=None):
        """A timing as ``812 µs ±3%``, or why there is none (``missing``, ``error``, ``—``)."""
        timing = self.get(framework, index)
        if timing is None:
            return self._absence(framework)
        if key is not None:
            timing = timing[key]
        return f"{format_seconds(timing['median_s'])} ±{spread_percent(timing):.0f}%"

    def cell(self, framework, index, key=None, unit=""):
        """A plain value (``21.3 MiB``), or why there is none."""
        value = self.value(framework, index, key)
        return self._absence(framework) if value is None else f"{value:,.1f}{unit}"

    def _absence(self, framework):
        status = self.status(framework)
        return "—" if status == "ok" else status


def paragraph(docstring, index):
    """Paragraph ``index`` of a docstring on one line, for a table's note (workloads describe what they
    measure once, in their module docstring)."""
    return " ".join(docstring.split("\n\n")[index].split())


def ratio(numerator, denominator):
    """``numerator / denominator``, ``None`` when either is ``None``."""
    if numerator is None or denominator is None:
        return None
    return numerator / denominator


def format_ratio(value):
    """``0.87x``, or ``n/a``."""
    return "n/a" if value is None else f"{value:.2f}x"


def spread_percent(timing):
    """Half the interquartile range as a percentage of the median."""
    return 50 * (timing["q3_s"] - timing["q1_s"]) / timing["median_s"]


def format_seconds(seconds):
    """Three significant digits in µs, ms or s.

    Example:
        >>> format_seconds(0.0008123), format_seconds(0.0152), format_seconds(2.5), format_seconds(9.9996e-4)
        ('812 µs', '15.2 ms', '2.50 s', '1.00 ms')
    """
    value, unit = seconds * 1e6, "µs"
    for larger_unit in ("ms", "s"):
        if float(f"{value:.3g}") < 1000:
            break
        value, unit = value / 1000, larger_unit
    return f"{value:#.3g}".rstrip(".") + f" {unit}"


def overall_status(goals):
    """``MISSED`` if any goal is missed, else ``n/a`` if any could not be measured, else ``met``;
    ``—`` when there are no goals."""
    statuses = {goal.status for goal in goals}
    for status in ("MISSED", "n/a", "met"):
        if status in statuses:
            return status
    return "—"


def markdown_table(headers, rows):
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(run, tables, notes=None):
    """The whole report: headline goals, machine and versions, the command, every table, notes.

    Args:
        run: the run's description (see :func:`benchmarks.runner.run_suite`).
        tables: the :class:`Table` objects to show.
        notes: hand-written Markdown appended at the end, or ``None``.
    """
    machine, settings = run["machine"], run["settings"]
    goals = [goal for table in tables for goal in table.goals]
    parts = [
        "# Benchmarks",
        ("Generated by `python -m benchmarks`; rerun it to refresh this file. Every framework runs each "
         "workload in a process of its own, with the same thread settings."),
        "## Goals",
        markdown_table(["goal", "measured", "status"],
                       [[g.description, format_ratio(g.ratio), g.status] for g in goals]),
        "## Machine and settings",
        markdown_table(["setting", "value"], [
            ["platform", machine["platform"]],
            ["CPU", f"{machine['cpu']} ({machine['cores']} logical cores)"],
            ["versions", ", ".join(f"{name} {version}" for name, version in run["versions"].items())],
            ["threads", f"{settings['threads']} per process: "
                        + ", ".join(f"`{k}={v}`" for k, v in settings["environment"].items())
                        + f", `torch.set_num_threads({settings['threads']})`"
                        + (f", bound to CPU {', '.join(map(str, settings['cpus']))}" if settings["cpus"]
                           else ", not bound to CPUs (unsupported here)")],
            ["thread check", (f"processor time / wall time at most {max_cpu_per_wall(run):.2f} in every "
                              "timed repeat loop")],
            ["command", f"`{run['command']}`"],
            ["commit", run["commit"]],
            ["chainrule source", source_line(run["chainrule_source"])],
            ["date", run["date"]],
        ]),
        SPREAD_NOTE,
    ]
    absent = unmeasured(run)
    if absent:
        parts += ["## Frameworks not measured", "\n".join(f"- {line}" for line in absent)]
    for table in tables:
        parts += [f"## {table.title}", table.note, markdown_table(table.headers, table.rows)]
    if notes:
        parts += ["## Notes", notes.strip()]
    return "\n\n".join(parts) + "\n"


def source_line(digests):
    """The digest of chainrule's source, with a warning when it changed while the suite ran."""
    if digests["at_start"] == digests["at_end"]:
        return f"digest {digests['at_start']}, unchanged during the run"
    return (f"CHANGED during the run (digest {digests['at_start']} at the start, {digests['at_end']} at the "
            "end): rerun for figures of one version")


def unmeasured(run):
    """One line per (workload, framework) whose worker reported a missing library or failed."""
    return [f"{workload}, {FRAMEWORK_NAMES[framework]}: {outcome['status']} ({outcome['reason']})"
            for workload, content in run["workloads"].items()
            for framework, outcome in content["results"].items() if outcome["status"] != "ok"]


def max_cpu_per_wall(run):
    """The largest processor-time-over-wall-time ratio of any timing in ``run``: about the number of
    threads that did the work, so it checks that the thread settings held."""
    def ratios(value):
        if isinstance(value, dict):
            if "cpu_per_wall" in value:
                yield value["cpu_per_wall"]
            for item in value.values():
                yield from ratios(item)
        elif isinstance(value, list):
            for item in value:
                yield from ratios(item)
    return max(ratios(run["workloads"]), default=float("nan"))


def to_json(run, tables):
    """The run, its raw measurements and its tables as JSON text."""
    document = dict(run, tables=[dataclasses.asdict(table) | {"goals": [
        dataclasses.asdict(goal) | {"description": goal.description, "status": goal.status}
        for goal in table.goals]} for table in tables])
    return json.dumps(document, indent=1)
