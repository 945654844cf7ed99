"""The logs a training run keeps for ``chainrule view``: the loss of every step and, every ``every``
steps, the gradient flow (each weight's gradient and weight norm and the share of dead units after it).

They are JSON-lines files in the run directory, ``steps.jsonl`` and ``flow.jsonl``, one object a line.
Lines are appended, not the file rewritten (a rewrite per step would cost time growing with the run);
lines are buffered and written at most once a second and at each epoch's end, so a kill loses at most
the last second, and a reader skips a last line that a kill cut short. A resumed run first cuts the
logs back to the step its checkpoint holds, so no step is logged twice.

Dead units are counted on a fixed probe batch, the first ``probe`` examples of the training set, run
through the model in evaluation mode: the same examples every time, so the curve shows the model
changing and not the batches.
"""

import json
import os
import time
from pathlib import Path

from .flow import gradient_flow

STEPS_LOG = "steps.jsonl"
FLOW_LOG = "flow.jsonl"
DEFAULT_EVERY = 50
PROBE_EXAMPLES = 64
FLUSH_SECONDS = 1.0


class RunRecorder:
    """A training callback (see :mod:`chainrule.train.callbacks`) writing the logs ``chainrule view``
    reads into ``run_dir``.

    Args:
        run_dir: the run directory.
        every: record the gradient flow every this many steps (and at step 1); 0 turns it off (the
            loss of every step is still logged).
        probe: how many training examples the dead-unit share is counted on.

    Example:
        >>> import numpy as np, tempfile
        >>> from chainrule import nn, optim
        >>> from chainrule.train import fit
        >>> x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int64")
        >>> model = nn.MLP([3, 8, 2], seed=0)
        >>> run_dir = tempfile.mkdtemp()
        >>> _ = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
        ...         batch_size=10, progress=False, callbacks=[RunRecorder(run_dir, every=4)])
        >>> [row["step"] for row in read_log(Path(run_dir) / FLOW_LOG)]
        [1, 4, 8]
        >>> len(read_log(Path(run_dir) / STEPS_LOG))
        8
    """

    def __init__(self, run_dir, every=DEFAULT_EVERY, probe=PROBE_EXAMPLES):
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ValueError(f"RunRecorder: every must be a non-negative int (0: no gradient flow), "
                             f"not {every!r}")
        if isinstance(probe, bool) or not isinstance(probe, int) or probe < 1:
            raise ValueError(f"RunRecorder: probe must be a positive int, not {probe!r}")
        self.run_dir = Path(run_dir)
        self.every = every
        self.probe = probe
        self.seconds = 0.0  # time spent recording, for the cost measured in docs/view.md
        self.active = True
        self._inputs = None
        self._lines = {STEPS_LOG: [], FLOW_LOG: []}
        self._flushed = time.monotonic()

    def on_train_begin(self, trainer):
        self.active = writes_files(trainer)
        if not self.active:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in self._lines:
            truncate_log(self.run_dir / name, trainer.step)
        self._inputs = probe_inputs(trainer, self.probe)

    def on_batch_end(self, trainer, step, logs):
        if not self.active:
            return
        started = time.perf_counter()
        lr = trainer.optimizer.param_groups[0]["lr"]
        epoch = logs.get("epoch")  # None in a loop that counts iterations
        self._lines[STEPS_LOG].append({"step": step, "epoch": epoch, "loss": logs["loss"], "lr": lr})
        if self.every and (step == 1 or step % self.every == 0):
            self._lines[FLOW_LOG].append(flow_record(trainer.model, self._inputs, step, epoch))
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()
        self.seconds += time.perf_counter() - started

    def on_record(self, trainer, record):
        self.flush()

    def on_train_end(self, trainer):
        self.flush()

    def flush(self):
        """Append the buffered lines to the logs."""
        for name, lines in self._lines.items():
            if lines:
                with open(self.run_dir / name, "a", encoding="utf-8") as file:
                    file.write("".join(json.dumps(line) + "\n" for line in lines))
                lines.clear()
        self._flushed = time.monotonic()


def writes_files(trainer):
    """Whether this process writes the run's files: always, except on the ranks other than 0 of a
    data-parallel run."""
    distributed = getattr(trainer, "distributed", None)
    return distributed is None or getattr(distributed, "is_root", True)


def flow_record(model, inputs, step, epoch):
    """One line of ``flow.jsonl``: per weight (parameters with two or more axes), its gradient norm,
    its norm and the share of dead units after it, and the kinds of warning raised."""
    try:
        report = gradient_flow(model, inputs=inputs)
    except ValueError:  # no gradient yet (a compiled step keeps them in its own buffers)
        return {"step": step, "epoch": epoch, "layers": [], "warnings": []}
    layers = [{"name": row["name"], "grad_norm": row["grad_norm"], "weight_norm": row["weight_norm"],
               "dead": row["dead_fraction"]} for row in report.rows if len(row["shape"]) >= 2]
    return {"step": step, "epoch": epoch, "layers": layers,
            "warnings": sorted({warning.kind for warning in report.warnings})}


def probe_inputs(trainer, count):
    """The first ``count`` training examples' features (``None`` when the data set cannot say)."""
    from ..core.tensor import Tensor
    loader = getattr(trainer, "loader", None)  # a loop drawing random windows has none
    dataset = getattr(loader, "dataset", None)
    arrays = getattr(dataset, "arrays", None)
    if not arrays:
        return None
    return Tensor(arrays[0][:count])


def read_log(path, since=0):
    """The complete lines of a JSON-lines log with ``step`` above ``since`` (a last line cut short by
    a kill is skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("step", 0) > since:
            rows.append(row)
    return rows


def truncate_log(path, step):
    """Keep the lines of a log up to ``step`` (all of them removed for a new run, ``step`` 0)."""
    if not path.exists():
        return
    if step == 0:
        os.remove(path)
        return
    from ..serialization import write_atomic
    kept = [json.dumps(row) + "\n" for row in read_log(path) if row["step"] <= step]
    write_atomic(path, "".join(kept))
