"""The training loop by iterations, as nanoGPT's ``train.py``: draw a batch, step, and every
``eval_interval`` iterations estimate the losses, record them and write the checkpoints."""

import time

import numpy as np

from ..nn.utils import clip_grad_norm_
from .callbacks import Monitor
from .compiled import CompiledStep
from .lm import estimate_loss
from .loop import Loop, _generators, format_record
from .placing import placer


class IterationTrainer(Loop):
    """Trains a model by iterations on batches drawn at random, evaluating every ``eval_interval``.

    Args:
        model: the model.
        objective: ``objective(model, x, y) -> loss`` (a scalar tensor), e.g. the GPT's own
            ``model(x, y)[1]``.
        optimizer: an optimiser over the model's parameters.
        sample: ``sample(data, rng) -> (x, y)``, one batch drawn from ``data`` with ``rng``.
        lr_at: ``lr_at(iteration) -> float``, the learning rate set before each step (``None``: left
            as the optimiser has it).
        clip_grad_norm: when set, the gradients' global L2 norm is clipped to at most this.
        eval_interval: iterations between evaluations (and checkpoints); the last iteration is always
            evaluated.
        eval_iters: batches per loss estimate.
        monitor: a :class:`~chainrule.train.Monitor` of the records picking the best checkpoint
            (default: ``val_loss``).
        callbacks, progress, checkpoint_dir, log: as for :class:`~chainrule.train.Trainer`; a record's
            ``on_record`` comes after each evaluation.
        seed: seeds the batches (``seed``) and the evaluation's batches (``seed + 1``); both
            generators are saved in the checkpoints, so a resumed run repeats the history of an
            uninterrupted one.
        compile: record the training step once and replay it (as for
            :class:`~chainrule.train.Trainer`).

    Attributes:
        iteration: the number of steps taken (``step`` too).
        history: one record per evaluation: ``iteration``, ``loss``, ``val_loss``, ``lr``, ``seconds``.
    """

    POSITION = "iteration"

    def __init__(self, model, objective, optimizer, sample, *, lr_at=None, clip_grad_norm=None,
                 eval_interval=250, eval_iters=20, monitor=None, callbacks=(), seed=0, progress=True,
                 checkpoint_dir=None, compile=False, log=None):
        super().__init__(model, optimizer, callbacks=callbacks, progress=progress, checkpoint_dir=checkpoint_dir,
                         log=log)
        self.objective = objective
        self.sample = sample
        self.lr_at = lr_at
        self.clip_grad_norm = clip_grad_norm
        self.eval_interval = eval_interval
        self.eval_iters = eval_iters
        self.monitor = monitor or Monitor("val_loss")
        self.batches = np.random.default_rng(seed)
        self.evaluation = np.random.default_rng(seed + 1)
        self.iteration = 0
        self.compiled_step = None
        if compile:
            self.compiled_step = CompiledStep(self._update, model, optimizer, lambda: _generators(model),
                                              self._say)

    def fit(self, train_data, val_data, iterations, resume=False):
        """Train until ``iterations`` steps are done in all (counting those before a resume).

        Returns:
            The :class:`~chainrule.train.History`.
        """
        if resume:
            self._resume()
        self._call("on_train_begin", self)
        started = time.perf_counter()
        while not self.stop_training:
            due = self.iteration % self.eval_interval == 0 or self.iteration == iterations
            if due and self.history["iteration"][-1:] != [self.iteration]:  # a resumed run has this one
                self._evaluate(train_data, val_data, iterations, time.perf_counter() - started)
                started = time.perf_counter()
            if self.iteration >= iterations:
                break
            if self.lr_at is not None:
                for group in self.optimizer.param_groups:
                    group["lr"] = self.lr_at(self.iteration)
            x, y = self.sample(train_data, self.batches)
            loss = self._train_step(x, y)
            self.iteration = self.step = self.iteration + 1
            self._call("on_batch_end", self, self.step, {"iteration": self.iteration, "loss": loss,
                                                        "batch_size": len(y)})
        self._call("on_train_end", self)
        return self.history

    def _evaluate(self, train_data, val_data, iterations, seconds):
        logs = {"iteration": self.iteration,
                "loss": estimate_loss(self.model, train_data, self.sample, self.eval_iters, self.evaluation)}
        if val_data is not None:
            logs["val_loss"] = estimate_loss(self.model, val_data, self.sample, self.eval_iters, self.evaluation)
        logs["lr"] = self.lr_at(self.iteration) if self.lr_at else self.optimizer.param_groups[0]["lr"]
        logs["seconds"] = seconds
        self._record(logs)
        if self.progress:
            self._say(format_record(logs, "iteration", iterations))

    def _train_step(self, x, y):
        loss = None if self.compiled_step is None else self.compiled_step(x, y)
        if loss is None:
            loss = self._update(x, y, check_first=True)
        else:
            self._check_finite(loss.item())
        return loss.item()

    def _update(self, x, y, check_first=False):
        """One optimiser step on the batch ``(x, y)``; returns the loss."""
        put = placer(self.model)
        loss = self.objective(self.model, put(x), put(y))
        if check_first:
            self._check_finite(loss.item())
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        return loss

    def _loop_state(self):
        """The batches' and the evaluation's generators."""
        return {"batches": self.batches.bit_generator.state, "evaluation": self.evaluation.bit_generator.state}

    def _load_loop_state(self, state):
        self.batches.bit_generator.state = state["batches"]
        self.evaluation.bit_generator.state = state["evaluation"]
