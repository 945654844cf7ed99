"""Gradient flow during training: a callback for :func:`chainrule.train.fit` (see the protocol in
:mod:`chainrule.train.callbacks`)."""

import logging

from .flow import gradient_flow, weights_snapshot
from .plots import plot_gradient_flow

_log = logging.getLogger("chainrule.inspect")


class GradientFlowCallback:
    """Report gradient flow every ``every`` optimiser steps; keep the reports; plot them at the end.

    A warning is logged on the ``chainrule.inspect`` logger (shown on stderr unless logging is
    configured otherwise) when its kind appears, not again at every report while it lasts. The
    update-to-weight ratio is measured exactly, from a copy of the weights taken one step before each
    report.

    Args:
        every: report after every ``every``-th step.
        inputs: a fixed batch for counting dead ReLU units (see :func:`gradient_flow`); none by default.
        plot: a PNG path for :func:`plot_gradient_flow` of the history when training ends.

    Attributes:
        history: ``(step, FlowReport)`` pairs, in order.

    Example:
        >>> from chainrule.inspect import GradientFlowCallback
        >>> GradientFlowCallback(every=50).every
        50
    """

    def __init__(self, every=100, inputs=None, plot=None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, not {every!r}")
        self.every = every
        self.inputs = inputs
        self.plot_path = plot
        self.history = []
        self._steps_seen = 0
        self._previous = None
        self._warned = set()

    def on_train_begin(self, trainer):
        self._steps_seen = 0
        self._snapshot_if_due(trainer.model)

    def on_batch_end(self, trainer, step, logs):
        self._steps_seen += 1
        if self._steps_seen % self.every == 0:
            report = gradient_flow(trainer.model, inputs=self.inputs, previous=self._previous)
            self.history.append((step, report))
            for warning in report.warnings:
                if warning.kind not in self._warned:
                    _log.warning("gradient flow at step %s: %s", step, warning.message)
            self._warned = {warning.kind for warning in report.warnings}
        self._snapshot_if_due(trainer.model)

    def on_train_end(self, trainer):
        if self.plot_path is not None and self.history:
            self.plot(self.plot_path)

    def plot(self, path=None):
        """:func:`plot_gradient_flow` of the history so far; returns the figure."""
        return plot_gradient_flow(self.history, path)

    def _snapshot_if_due(self, model):
        """Copy the weights when the next step is a reporting one: the report measures its update."""
        if (self._steps_seen + 1) % self.every == 0:
            self._previous = weights_snapshot(model)
