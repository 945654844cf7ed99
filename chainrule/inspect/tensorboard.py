"""TensorBoard event files of a training run (``chainrule train --tensorboard``), for those who live in
TensorBoard: the loss and learning rate of every step (``step/``), the metrics of each history record
(an epoch, or an evaluation of a run counted in iterations: ``record/``), and every ``every`` steps
histograms of each parameter's values and gradients. Written with tensorboardX (the ``tensorboard``
extra: ``pip install 'chainrule[tensorboard]'``); view them with ``tensorboard --logdir RUN_DIR/tensorboard``.
"""

import time
from pathlib import Path

from .recorder import DEFAULT_EVERY, writes_files

TENSORBOARD_DIR = "tensorboard"
INSTALL_HELP = ("writing TensorBoard files needs tensorboardX: pip install 'chainrule[tensorboard]' "
                "(or pip install tensorboardX)")


class TensorBoardCallback:
    """A training callback writing TensorBoard event files into ``log_dir``.

    Args:
        log_dir: the directory of the event files (``RUN_DIR/tensorboard`` for a run).
        every: write the histograms of weights and gradients every this many steps (and at step 1).

    Raises:
        ImportError: when tensorboardX is not installed, saying how to install it.
    """

    def __init__(self, log_dir, every=DEFAULT_EVERY):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as error:
            raise ImportError(INSTALL_HELP) from error
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"TensorBoardCallback: every must be a positive int, not {every!r}")
        self.log_dir = Path(log_dir)
        self.every = every
        self.seconds = 0.0
        self._writer_class = SummaryWriter
        self.writer = None

    def on_train_begin(self, trainer):
        if not writes_files(trainer):
            return
        if trainer.step == 0 and self.log_dir.is_dir():  # a new run: the files of one it replaces go
            for old in self.log_dir.glob("events.out.tfevents.*"):
                old.unlink()
        # purge_step: a resumed run drops the events a killed run wrote after its checkpoint
        self.writer = self._writer_class(str(self.log_dir), purge_step=trainer.step or None, flush_secs=5)

    def on_batch_end(self, trainer, step, logs):
        if self.writer is None:
            return
        started = time.perf_counter()
        self.writer.add_scalar("step/loss", logs["loss"], step)
        self.writer.add_scalar("step/lr", trainer.optimizer.param_groups[0]["lr"], step)
        if step == 1 or step % self.every == 0:
            for name, parameter in trainer.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", parameter.data, step)
                if parameter.grad is not None:
                    self.writer.add_histogram(f"gradients/{name}", parameter.grad.data, step)
        self.seconds += time.perf_counter() - started

    def on_record(self, trainer, record):
        if self.writer is None:
            return
        for name, value in record.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and name not in ("epoch", "iteration"):
                self.writer.add_scalar(f"record/{name}", value, trainer.step)
        self.writer.flush()

    def on_train_end(self, trainer):
        if self.writer is not None:
            self.writer.close()
