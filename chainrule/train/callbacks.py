"""Hooks into the training loop, and the monitor behind early stopping and the best checkpoint.

The callback protocol: any object passed in ``callbacks=`` may define any of

- ``on_train_begin(trainer)``: before the first epoch (also when resuming);
- ``on_batch_end(trainer, step, logs)``: after each optimiser step; ``step`` counts steps from 1 over the
  whole run, ``logs`` holds ``epoch``, ``loss`` (the batch's mean loss) and ``batch_size``, and the
  parameters' ``.grad`` still hold this batch's gradients (after clipping, when clipping is on);
- ``on_record(trainer, record)``: after each history record (each epoch of a
  :class:`~chainrule.train.Trainer`, each evaluation of an :class:`~chainrule.train.IterationTrainer`),
  once the checkpoints are written: the hook for anything logged per record (TensorBoard files,
  gradient-flow snapshots...);
- ``on_epoch_end(trainer, epoch, logs)``: after validation; ``logs`` is the epoch's history record
  (epoch loops only);
- ``on_train_end(trainer)``: after the last epoch (after the best weights are restored).

``trainer.model``, ``trainer.optimizer``, ``trainer.history``, ``trainer.step`` and
``trainer.position`` (epochs or iterations done) are there to read; setting
``trainer.stop_training = True`` ends the run after the current epoch (or iteration). Subclassing
:class:`Callback` is optional. ``chainrule.train.train_run(..., callbacks=[...])`` hands callbacks to a
run's loop.
"""

import math


class Callback:
    """A callback that does nothing: subclass it and override the hooks you need."""

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_record(self, trainer, record):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass


_MODES = ("min", "max", "auto")


class Monitor:
    """Follows one metric of the epoch records and remembers its best value.

    Args:
        metric: a key of the epoch records, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (``"max"`` for metrics named like accuracy, else ``"min"``).
        min_delta: how much better than the best so far a value must be to count as an improvement.
        tiebreak: a metric to minimise among records that tie on ``metric`` (``"val_loss"`` for
            ``"val_accuracy"``: a small validation set gives many equal accuracies).

    Example:
        >>> monitor = Monitor("val_accuracy")
        >>> [monitor.update(epoch, {"val_accuracy": acc}) for epoch, acc in enumerate([0.5, 0.7, 0.6], 1)]
        [True, True, False]
        >>> monitor.best, monitor.best_epoch, monitor.epochs_since_best
        (0.7, 2, 1)
    """

    restore_best = False

    def __init__(self, metric="val_loss", mode="auto", min_delta=0.0, tiebreak=None):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be non-negative, not {min_delta!r}")
        self.metric = metric
        self.mode = ("max" if "accuracy" in metric else "min") if mode == "auto" else mode
        self.min_delta = min_delta
        self.tiebreak = tiebreak
        self.best = None
        self.best_tiebreak = None
        self.best_epoch = None
        self.epochs_since_best = 0

    def update(self, epoch, logs):
        """Record the end of ``epoch`` (or the record at an iteration); returns True when
        ``logs[metric]`` is a new best."""
        value = logs[self.metric]
        second = None if self.tiebreak is None else logs.get(self.tiebreak)
        sign = 1 if self.mode == "max" else -1
        improved = math.isfinite(value) and (
            self.best is None or sign * (value - self.best) > self.min_delta
            or (value == self.best and second is not None and self.best_tiebreak is not None
                and second < self.best_tiebreak))
        if improved:
            self.best, self.best_tiebreak, self.best_epoch, self.epochs_since_best = value, second, epoch, 0
        else:
            self.epochs_since_best += 1
        return improved

    def should_stop(self):
        """Whether training should end now (never, for a plain monitor)."""
        return False

    def state_dict(self):
        return {"best": self.best, "best_tiebreak": self.best_tiebreak, "best_epoch": self.best_epoch,
                "epochs_since_best": self.epochs_since_best}

    def load_state_dict(self, state):
        self.best = state["best"]
        self.best_tiebreak = state.get("best_tiebreak")
        self.best_epoch = state["best_epoch"]
        self.epochs_since_best = state["epochs_since_best"]


class EarlyStopping(Monitor):
    """Stop training when a validation metric has not improved for ``patience`` epochs.

    Args:
        metric: the metric watched, e.g. ``"val_loss"`` (the default) or ``"val_accuracy"``.
        patience: how many epochs without improvement to allow.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the metric's name).
        min_delta: the smallest change that counts as an improvement.
        restore_best: load the weights of the best epoch back into the model when training ends.

    Example:
        >>> stopper = EarlyStopping("val_loss", patience=2)
        >>> for epoch, loss in enumerate([0.9, 0.8, 0.85, 0.83], 1):
        ...     _ = stopper.update(epoch, {"val_loss": loss})
        >>> stopper.should_stop(), stopper.best_epoch
        (True, 2)
    """

    def __init__(self, metric="val_loss", patience=10, mode="auto", min_delta=0.0, restore_best=True,
                 tiebreak=None):
        super().__init__(metric, mode, min_delta, tiebreak)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, not {patience!r}")
        self.patience = patience
        self.restore_best = restore_best

    def should_stop(self):
        return self.epochs_since_best >= self.patience
