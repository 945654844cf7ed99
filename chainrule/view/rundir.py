"""Reading a run directory for the page: what is there, what is missing, and the curves so far.

Only files named here are ever read, each by its fixed name inside one of the run directories the
server was started with; a name whose real path leaves its directory (a symbolic link pointing out)
is refused. A run in progress or killed has some files and not others: :meth:`RunDirectory.summary`
lists them and says what each missing one means, and the curves come from whatever holds them (the
finished ``history.json``, else the history inside the last checkpoint, plus the step log).
"""

import json
from pathlib import Path

from safetensors import SafetensorError, safe_open

from ..inspect.recorder import FLOW_LOG, STEPS_LOG, read_log
from ..inspect.tensorboard import TENSORBOARD_DIR

# The files of a run directory the page reads or reports, and what their absence means.
FILES = {
    "config.json": "the settings: this directory holds no run (or its start was cut short)",
    "run.json": "the data and model description: the run has not started training",
    "last.safetensors": "the last checkpoint: no epoch (or evaluation) has finished yet",
    "best.safetensors": "the best checkpoint: no epoch has finished yet",
    "history.json": "the final history: the run is training, was killed, or has not finished",
    STEPS_LOG: "the loss of every step: recorded by chainrule train (--record-every); an older run",
    FLOW_LOG: "the gradient flow: recorded every --record-every steps; off (0) or an older run",
    "report.md": "the report: written when the run finishes",
}
CHECKPOINTS = ("last.safetensors", "best.safetensors")


class Refused(Exception):
    """A request for something the server does not serve (the server answers 404)."""


class RunDirectory:
    """One run directory served by the page, addressed by its position in the command line."""

    def __init__(self, path):
        self.given = str(path)
        self.root = Path(path).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"chainrule view: {path} is not a directory")
        self.name = self.root.name

    def file(self, name):
        """The path of the run file ``name`` (one of :data:`FILES`), or ``None`` when it is absent.

        Raises:
            Refused: for another name, or when the file's real path is outside the run directory.
        """
        if name not in FILES:
            raise Refused(f"{name!r} is not a run file")
        path = self.root / name
        if not path.exists():
            return None
        real = path.resolve()
        if real.parent != self.root or not real.is_file():
            raise Refused(f"{path} leads out of the run directory")
        return real

    def json(self, name):
        """The parsed JSON file ``name``, or ``None`` when absent or unreadable (half written)."""
        path = self.file(name)
        if path is None:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return None

    def summary(self):
        """The page's description of the run: its kind, settings, record, and the files present and
        missing (each missing one with what its absence means)."""
        config = self.json("config.json") or {}
        record = self.json("run.json") or {}
        present, missing = [], []
        for name, meaning in FILES.items():
            try:
                found = self.file(name) is not None
            except Refused:
                found, meaning = False, "refused: a link leading out of the run directory"
            (present if found else missing).append(name if found else {"file": name, "meaning": meaning})
        finished = "history.json" in present and "report.md" in present
        return {"name": self.name, "path": self.given, "kind": run_kind(config, record),
                "config": config, "record": _without_vocabulary(record), "present": present,
                "missing": missing, "status": "finished" if finished else "in progress or stopped",
                "tensorboard": (self.root / TENSORBOARD_DIR).is_dir()}

    def history(self):
        """The per-epoch (or per-evaluation) records: ``history.json``, else the last checkpoint's."""
        history = self.json("history.json")
        if isinstance(history, list):
            return history
        path = self.file("last.safetensors")
        return [] if path is None else checkpoint_history(path)

    def log(self, name, since=0):
        """The lines of the step log or the flow log with a step above ``since``."""
        if name not in (STEPS_LOG, FLOW_LOG):
            raise Refused(f"{name!r} is not a log")
        path = self.file(name)
        return [] if path is None else read_log(path, since)

    def checkpoint(self):
        """The path of the checkpoint whose weights the page shows: the best, else the last; ``None``
        before the first epoch ends."""
        for name in CHECKPOINTS:
            path = self.file(name)
            if path is not None:
                return path
        return None

    def version(self):
        """Changes whenever a checkpoint is rewritten: the key of the models cached for this run."""
        path = self.checkpoint()
        return None if path is None else (str(path), path.stat().st_mtime_ns)


def run_kind(config, record):
    """``"mlp"``, ``"cnn"``, ``"transformer"`` (attention), ``"rnn"``... from the settings; ``"lm"``
    for a language model trained by iterations; ``None`` when the settings are missing."""
    model = config.get("model")
    if model is None:
        return None
    if model == "gpt":
        return "lm"
    return model


def checkpoint_history(path):
    """The ``history`` entry of a checkpoint, read from its metadata alone (the arrays stay on disk)."""
    try:
        with safe_open(str(path), framework="np") as file:
            metadata = file.metadata() or {}
    except (SafetensorError, OSError):
        return []  # a checkpoint being replaced: the next poll reads the new one
    try:
        structure = json.loads(metadata.get("chainrule.structure", "{}"))
    except ValueError:
        return []
    for key, value in structure.get("dict", []):
        if key == "history":
            return _plain(value)
    return []


def _plain(description):
    """A metadata description of plain values (no arrays) back as Python values."""
    (kind, content), = description.items()
    if kind == "dict":
        return {key: _plain(value) for key, value in content}
    if kind in ("list", "tuple"):
        return [_plain(value) for value in content]
    return content if kind == "value" else None


def _without_vocabulary(record):
    """The ``run.json`` record without its vocabulary lists (thousands of words the page does not show)."""
    record = dict(record)
    if isinstance(record.get("data"), dict):
        record["data"] = {key: value for key, value in record["data"].items() if key != "vocabulary"}
    if "vocabulary" in record:
        record["vocabulary"] = "(kept in run.json)"
    return record
