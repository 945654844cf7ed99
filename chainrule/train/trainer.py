"""The training loop: mini-batches, metrics, validation, learning-rate schedules, gradient clipping,
early stopping, checkpoints and callbacks."""

import time

import numpy as np
from tqdm import tqdm

from ..core.graph import no_grad
from ..core.tensor import Tensor
from ..data import DataLoader, TensorDataset
from ..nn.utils import clip_grad_norm_
from ..optim.lr_scheduler import ReduceLROnPlateau
from .callbacks import Monitor
from .compiled import CompiledStep, cut_to_bucket, length_buckets
from .loop import BEST, LAST, DivergedError, Loop, _generators, format_record  # noqa: F401 (re-exported)
from .placing import on_host, placer
from .metrics import SCORE_LABELS, EpochMetrics, per_class_accuracy, score_name


BUCKETS = 8  # the most sentence lengths a compiled step of token batches records a program for


class Trainer(Loop):
    """Trains a model on a data set epoch by epoch, and scores it.

    Each epoch visits the training set once in a fresh random order (seeded), taking one optimiser
    step per mini-batch, then scores the validation set, steps the learning-rate schedule, records the
    epoch in :attr:`history` and, with a ``checkpoint_dir``, saves the checkpoints.

    Args:
        model: a Module mapping a batch of features to outputs (logits for a classifier).
        loss: ``loss(outputs, targets)`` giving the batch's mean loss, e.g. ``nn.CrossEntropyLoss()``.
        optimizer: an optimiser over the model's parameters.
        batch_size: examples per optimiser step.
        drop_last: skip each epoch's last batch when it is smaller than ``batch_size`` (batch
            normalisation needs more than one example per batch).
        scheduler: a learning-rate scheduler stepped once per epoch; a ``ReduceLROnPlateau`` is given
            the monitored metric.
        clip_grad_norm: when set, the gradients' global L2 norm is clipped to at most this.
        early_stopping: an :class:`~chainrule.train.EarlyStopping`; its metric also picks the best
            checkpoint.
        monitor: a :class:`~chainrule.train.Monitor` picking the best checkpoint when there is no
            ``early_stopping`` (default: ``val_loss``, or ``loss`` when there is no validation set).
        callbacks: objects following the protocol in :mod:`chainrule.train.callbacks`.
        seed: seeds the shuffling of the training set; with the model's own seed, a run is
            reproducible bit for bit.
        progress: show a progress bar per epoch, with loss, accuracy and speed (only when stderr is
            a terminal); with ``log``, also one line per epoch when no bar is drawn or when standard
            output is not a terminal.
        log: called with lines worth showing (``print``), or ``None``.
        checkpoint_dir: where ``last.safetensors`` (each epoch) and ``best.safetensors`` (each new
            best) are saved; needed to resume.
        distributed: a :class:`~chainrule.distributed.DistributedDataParallel` around ``model`` for
            data-parallel training: ``batch_size`` is then the global batch, cut between the ranks,
            gradients are averaged after ``backward()``, epoch metrics are the whole batch's, and
            rank 0 alone writes checkpoints.
        compile: record the training step once per batch shape and replay it
            (:func:`chainrule.compile`, :class:`~chainrule.train.compiled.CompiledStep`): fused
            kernels, the same weights to float32 rounding, less Python per step; one line says so,
            and a step that cannot be recorded runs eagerly after one line saying why. Token batches
            are cut to one of ``BUCKETS`` lengths first. The loss is then checked for NaN after the
            update rather than before it.

    Attributes:
        history: a :class:`~chainrule.train.History`, one record per epoch.
        epoch: the number of epochs completed.
        step: the number of optimiser steps taken.
        stop_training: set it to True to end training after the current epoch.
    """

    def __init__(self, model, loss, optimizer, *, batch_size=64, scheduler=None, clip_grad_norm=None,
                 drop_last=False, early_stopping=None, monitor=None, callbacks=(), seed=0, progress=True,
                 checkpoint_dir=None, distributed=None, compile=False, log=None):
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be positive or None, not {clip_grad_norm!r}")
        super().__init__(model, optimizer, callbacks=callbacks, progress=progress, checkpoint_dir=checkpoint_dir,
                         log=log)
        self.loss = loss
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.scheduler = scheduler
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.chosen_monitor = monitor
        self.seed = seed
        self.distributed = distributed
        self.compiled_step = None
        if compile:
            self.compiled_step = CompiledStep(self._update, model, optimizer, lambda: _generators(model),
                                              self._say, max_programs=2 * BUCKETS + 2)
        self.bucket_width = None
        self.task = None
        self.epoch = 0
        self.loader = None

    # -- training ---------------------------------------------------------------------------------

    def fit(self, train_data, val_data=None, epochs=10, resume=False):
        """Train until ``epochs`` epochs are done in all (counting those of earlier calls), or until
        early stopping ends the run.

        Args:
            train_data: a data set of ``(features, target)`` items, or a pair of arrays ``(x, y)``.
                Integer targets make a classifier (accuracy is reported), float targets a regression
                (RMSE).
            val_data: the validation set, in the same forms, or ``None``.
            epochs: the total number of epochs, counting those done before a resume.
            resume: continue from ``checkpoint_dir/last.safetensors``; the final weights are those
                an uninterrupted run would have reached.

        Returns:
            The :class:`~chainrule.train.History`.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, not {epochs!r}")
        train, val = _as_dataset(train_data), None if val_data is None else _as_dataset(val_data)
        self.task = _task(train)
        previous = self.loader
        make_loader = DataLoader if self.distributed is None else self.distributed.loader
        self.loader = make_loader(train, batch_size=self.batch_size, shuffle=True,
                                  drop_last=self.drop_last, seed=self.seed)
        if previous is not None:  # a second fit() continues the first one's sequence of epochs
            self.loader.load_state_dict(previous.state_dict())
        self.monitor = self.early_stopping or self.chosen_monitor or Monitor("val_loss" if val is not None
                                                                             else "loss")
        self._check_monitor(val is not None)
        if resume:
            self._resume()
        self._call("on_train_begin", self)
        while self.epoch < epochs and not self.stop_training:
            logs = self._run_epoch(epochs, val)
            self._call("on_epoch_end", self, self.epoch, logs)
        if self.monitor.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        self._call("on_train_end", self)
        return self.history

    def _run_epoch(self, epochs, val):
        start = time.perf_counter()
        self.model.train()
        totals = EpochMetrics(self.task)
        size = len(self.loader) * self.batch_size if self.drop_last else len(self.loader.dataset)
        bar = tqdm(total=size, desc=f"epoch {self.epoch + 1}/{epochs}", unit=" samples", unit_scale=True,
                   disable=None if self.progress else True, leave=True, dynamic_ncols=True)
        with bar:
            for x, y in self.loader:
                loss, outputs = self._train_step(x, y)
                totals.update(loss, outputs, y)
                self._call("on_batch_end", self, self.step,
                           {"epoch": self.epoch + 1, "loss": loss, "batch_size": len(y)})
                if not bar.disable:
                    bar.set_postfix(_short(totals.result()), refresh=False)
                    bar.update(len(y) if self.distributed is None else self.distributed.shard.global_rows)
            if self.distributed is not None:
                self.distributed.reduce_metrics(totals)
            logs = {"epoch": self.epoch + 1, **totals.result()}
            if val is not None:
                scores = self.evaluate(val)
                logs.update({f"val_{name}": scores[name] for name in totals.result()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            logs["seconds"] = time.perf_counter() - start
            bar.set_postfix(_short(logs))
        self._end_epoch(logs)
        if self._wants_lines(bar_shown=not bar.disable):
            self._say(format_record(logs, "epoch", epochs))
        return logs

    def _train_step(self, x, y):
        result = None
        if self.compiled_step is not None:
            result = self.compiled_step(self._bucketed(x), y)
        if result is None:
            loss, outputs = self._update(x, y, check_first=True)
        else:
            loss, outputs = result
        value = loss.item()
        if result is not None:
            self._check_finite(value)
        self.step += 1
        return value, on_host(outputs)

    def _bucketed(self, x):
        """Token ids (padded at the end) cut to their length bucket: one program per bucket (the models
        cut each batch to its longest sentence, a decision a program cannot repeat)."""
        ids = x.data if isinstance(x, Tensor) else x
        if not isinstance(ids, np.ndarray) or ids.ndim != 2 or ids.dtype.kind not in "iu":
            return x
        if self.bucket_width is None:
            self.bucket_width = length_buckets(ids, BUCKETS)
            self._say(f"compile: token batches are cut to their longest sentence rounded up to a multiple "
                      f"of {self.bucket_width} positions: one program per length, {BUCKETS} lengths at most")
        return cut_to_bucket(ids, self.bucket_width)

    def _update(self, x, y, check_first=False):
        """One optimiser step on the batch ``(x, y)``; returns the loss and the outputs."""
        self.optimizer.zero_grad()
        put = placer(self.model)
        outputs = self.model(put(x))
        loss = self.loss(outputs, put(y))
        if check_first:
            self._check_finite(loss.item())
        loss.backward()
        if self.distributed is not None:
            self.distributed.allreduce_gradients()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        return loss, outputs

    def _end_epoch(self, logs):
        self.epoch += 1
        if self.scheduler is not None:
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(logs[self.monitor.metric])
            else:
                self.scheduler.step()
        self._record(logs, writes=self.distributed is None or self.distributed.is_root)

    def _check_monitor(self, has_val):
        score = score_name(self.task)
        names = ["loss", score] + (["val_loss", f"val_{score}"] if has_val else [])
        if self.monitor.metric not in names:
            raise ValueError(f"early stopping watches {self.monitor.metric!r}, which this run does not "
                             f"record; choose one of {names}")

    # -- scoring ----------------------------------------------------------------------------------

    def evaluate(self, data, batch_size=1024):
        """Score the model on a data set: see :func:`evaluate`."""
        return evaluate(self.model, self.loss, data, batch_size)

    def predict(self, x, batch_size=1024):
        """The model's outputs for the rows of ``x``: see :func:`predict`."""
        return predict(self.model, x, batch_size)

    # -- checkpoints ------------------------------------------------------------------------------

    def _loop_state(self):
        """The schedule and the loader's position (the order of the epoch's batches)."""
        return {"scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "loader": self.loader.state_dict()}

    def _load_loop_state(self, state):
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.loader.load_state_dict(state["loader"])


def fit(model, loss, optimizer, train_data, val_data=None, epochs=10, *, resume=False, **options):
    """Train ``model``: a shortcut for ``Trainer(model, loss, optimizer, **options).fit(...)``.

    Args:
        model, loss, optimizer: as for :class:`Trainer`.
        train_data, val_data, epochs, resume: as for :meth:`Trainer.fit`.
        **options: the other settings of :class:`Trainer` (``batch_size``, ``scheduler``,
            ``clip_grad_norm``, ``early_stopping``, ``callbacks``, ``seed``, ``progress``,
            ``checkpoint_dir``).

    Returns:
        The :class:`~chainrule.train.History`.
    """
    return Trainer(model, loss, optimizer, **options).fit(train_data, val_data, epochs, resume)


def evaluate(model, loss, data, batch_size=1024):
    """Score ``model`` (in evaluation mode, without recording) on a data set.

    Args:
        model: the model.
        loss: ``loss(outputs, targets)``, the batch's mean loss.
        data: a data set of ``(features, target)`` items, or a pair of arrays ``(x, y)``; integer
            targets are class labels, float targets regression values.
        batch_size: examples per forward pass.

    Returns:
        A dict with ``loss`` and, for class labels, ``accuracy`` and ``per_class_accuracy`` (a list,
        one entry per class), or for regression targets, ``rmse``.
    """
    dataset = _as_dataset(data)
    task = _task(dataset)
    totals, outputs, targets = EpochMetrics(task), [], []
    model.eval()
    put = placer(model)
    with no_grad():
        for x, y in DataLoader(dataset, batch_size=min(batch_size, len(dataset))):
            out = model(put(x))
            totals.update(loss(out, put(y)).item(), on_host(out), y)
            outputs.append(on_host(out))
            targets.append(y)
    scores = totals.result()
    if task == "classification":
        outputs = np.concatenate(outputs)
        num_classes = outputs.shape[-1] if outputs.ndim == 2 and outputs.shape[-1] > 1 else 2
        scores["per_class_accuracy"] = per_class_accuracy(outputs, np.concatenate(targets), num_classes)
    return scores


def predict(model, x, batch_size=1024):
    """The outputs of ``model`` (in evaluation mode, without recording) for the rows of ``x``."""
    x = np.asarray(x)
    model.eval()
    put = placer(model)
    with no_grad():
        return np.concatenate([on_host(model(put(x[start:start + batch_size])))
                               for start in range(0, len(x), batch_size)])


def _as_dataset(data):
    if isinstance(data, (tuple, list)):
        return TensorDataset(*data)
    return data


def _task(dataset):
    """``"classification"`` for integer targets, ``"regression"`` for float ones."""
    target = np.asarray(dataset[0][1])
    return "classification" if target.dtype.kind in "iub" else "regression"


def _short(logs):
    """The metrics of a record as a progress bar's postfix: accuracies in percent."""
    names = [f"{prefix}{name}" for prefix in ("", "val_") for name in ("loss", *SCORE_LABELS)]
    return {name.replace("accuracy", "acc"): f"{logs[name]:.1%}" if name.endswith("accuracy")
            else f"{logs[name]:.4g}" for name in names if name in logs}
