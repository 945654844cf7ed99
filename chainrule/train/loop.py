"""What the two training loops share: history records, the monitor of the best record, the
checkpoints (best and last, atomic), resuming, callbacks and the lines a log shows.

:class:`~chainrule.train.Trainer` records once per epoch; :class:`~chainrule.train.IterationTrainer`
once per evaluation (every ``eval_interval`` iterations). Either way a record goes through
:meth:`Loop._record`: it joins the history, the monitor decides whether it is the best so far, the
checkpoints are written (best before last), and the callbacks' ``on_record`` hook sees it.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import ChainruleError, CheckpointError
from ..nn.rng import default_generator
from .checkpoint import load_checkpoint, save_checkpoint
from .history import History

LAST, BEST = "last.safetensors", "best.safetensors"


class DivergedError(ChainruleError, FloatingPointError):
    """The training loss became NaN or infinite."""


class Loop:
    """The parts of a training loop that do not depend on how it walks the data.

    Subclasses set :attr:`POSITION` (the record key that counts progress: ``"epoch"`` or
    ``"iteration"``), keep that count in the attribute of the same name, and add their own state
    to checkpoints through :meth:`_loop_state` and :meth:`_load_loop_state`.
    """

    POSITION = "epoch"

    def __init__(self, model, optimizer, *, callbacks=(), progress=True, checkpoint_dir=None, log=None):
        self.model = model
        self.optimizer = optimizer
        self.callbacks = list(callbacks)
        self.progress = progress
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.log = log
        self.history = History()
        self.monitor = None
        self.step = 0
        self.stop_training = False
        self.best_weights = None
        self.resumed_from = None

    @property
    def position(self):
        """How far training is: epochs done, or iterations done."""
        return getattr(self, self.POSITION)

    # -- records ----------------------------------------------------------------------------------

    def _record(self, logs, writes=True):
        """Add a history record; keep the best weights and write the checkpoints; tell the callbacks."""
        self.history.append(logs)
        improved = self.monitor.update(logs[self.POSITION], logs)
        if improved and self.monitor.restore_best:
            self.best_weights = self.model.state_dict()
        if self.monitor.should_stop():
            self.stop_training = True
        if writes and self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            state = {**self.state_dict(), "history": self.history.plain()}  # each record described once
            # Best before last: a kill between the two leaves a best checkpoint one record ahead of the
            # last one, which the resumed run writes again; never a last one naming a best record whose
            # weights were not saved.
            save_checkpoint(state, *[self.checkpoint_dir / BEST] * improved, self.checkpoint_dir / LAST)
        self._call("on_record", self, logs)
        return improved

    def _say(self, line):
        if self.log is not None:
            self.log(line)

    def _wants_lines(self, bar_shown):
        """Whether to print one line per record (as Keras's ``verbose=2``): when the progress is asked
        for but no bar is drawn, or when standard output goes to a file or a pipe."""
        return self.progress and self.log is not None and (not bar_shown or not _is_terminal(sys.stdout))

    def _check_finite(self, value):
        if not math.isfinite(value):
            raise DivergedError(self._divergence_message(value))

    def _divergence_message(self, value):
        message = (f"training diverged: the loss is {value} at {self.POSITION} {self.position + 1}, step "
                   f"{self.step + 1}; try a smaller learning rate or gradient clipping")
        if self.checkpoint_dir is not None and self.position > 0:
            message += f"; the last good checkpoint is {self.checkpoint_dir / LAST} ({self.POSITION} " \
                       f"{self.position})"
        return message

    def _call(self, hook, *args):
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)

    # -- checkpoints ------------------------------------------------------------------------------

    def state_dict(self):
        """Everything a resumed run needs: model, optimiser, the loop's position and its own state,
        the random states, the monitor and the history."""
        return {
            self.POSITION: self.position,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "random": {name: generator.bit_generator.state
                       for name, generator in _generators(self.model).items()},
            "monitor": self.monitor.state_dict(),
            "history": self.history.records,
            **self._loop_state(),
        }

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` saved."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        generators = _generators(self.model)
        for name, generator_state in state["random"].items():
            if name in generators:
                generators[name].bit_generator.state = generator_state
        self.monitor.load_state_dict(state["monitor"])
        self.history = History(state["history"])
        setattr(self, self.POSITION, state[self.POSITION])
        self.step = state["step"]
        self._load_loop_state(state)

    def _loop_state(self):
        return {}

    def _load_loop_state(self, state):
        pass

    def _resume(self):
        """Load the last checkpoint; when a kill cut its first write short, the best one (written
        just before it, with the same state); when there is neither, start from the beginning."""
        if self.checkpoint_dir is None:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        path = self.checkpoint_dir / LAST
        if not path.is_file() and (self.checkpoint_dir / BEST).is_file():
            path = self.checkpoint_dir / BEST
        if not path.is_file():
            self._say(f"no checkpoint in {self.checkpoint_dir} yet: training from the beginning")
            return
        state = load_checkpoint(path)
        try:
            self.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path} does not fit this training run: {error}") from error
        best = self.best_checkpoint()
        if self.monitor.restore_best and best is not None:
            self.best_weights = best["model"]
        self.stop_training = self.monitor.should_stop()
        self.resumed_from = (path.name, self.position)
        self._say(f"resumed from {path.name} at {self.POSITION} {self.position}"
                  + ("" if path.name == LAST else f" ({LAST} was missing: a kill cut its first write short)"))

    def best_checkpoint(self):
        """The best checkpoint, checked against the best record the last checkpoint names (``None``
        when there is none yet, or when it is ahead of the last checkpoint and will be written again).

        Raises:
            CheckpointError: when it holds another record than the run's best one.
        """
        path = self.checkpoint_dir / BEST
        if not path.is_file():
            return None
        best = load_checkpoint(path)
        if best[self.POSITION] > self.position:
            return None
        if best[self.POSITION] != self.monitor.best_epoch:
            raise CheckpointError(f"{path} holds {self.POSITION} {best[self.POSITION]}, but the run's best "
                                  f"{self.POSITION} is {self.monitor.best_epoch}: a write was cut short; this "
                                  f"run cannot name its best weights (train again with --force)")
        return best


def _generators(model):
    """The random generators training draws on besides the loop's own: the shared default one and
    any a module holds (dropout's), by module path and attribute."""
    found = {"default": default_generator()}
    for module_name, module in model.named_modules():
        for attribute, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{module_name}.{attribute}" if module_name else attribute] = value
    return found


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_record(record, position, total):
    """One line for a history record: ``epoch 3/30: loss 0.2134, accuracy 93.2%, ... 1.2 s``."""
    parts = []
    for name, value in record.items():
        if name in (position, "seconds", "lr") or not isinstance(value, float):
            continue
        parts.append(f"{name} {value:.1%}" if name.endswith("accuracy") else f"{name} {value:.4f}")
    return f"{position} {record[position]}/{total}: " + ", ".join(parts) + f", {record.get('seconds', 0):.1f} s"


def elapsed_since(start):
    return time.perf_counter() - start
