"""TensorBoard event files of a training run (``chainrule train --tensorboard``), for those who live in
TensorBoard: the loss and learning rate of every step, the epoch's metrics, and every ``every`` steps
histograms of each parameter's values and gradients. Written with tensorboardX (the ``tensorboard``
extra: ``pip install 'chainrule[tensorboard]'``); view them with ``tensorboard --logdir RUN_DIR/tensorboard``.
"""

import time
from pathlib import Path

from .recorder import DEFAULT_EVERY

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
        # purge_step: a resumed run drops the events a killed run wrote after its checkpoint
        self.writer = self._writer_class(str(self.log_dir), purge_step=trainer.step or None, flush_secs=5)

    def on_batch_end(self, trainer, step, logs):
        started = time.perf_counter()
        self.writer.add_scalar("step/loss", logs["loss"], step)
        self.writer.add_scalar("step/lr", trainer.optimizer.param_groups[0]["lr"], step)
        if step == 1 or step % self.every == 0:
            for name, parameter in trainer.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", parameter.data, step)
                if parameter.grad is not None:
                    self.writer.add_histogram(f"gradients/{name}", parameter.grad.data, step)
        self.seconds += time.perf_counter() - started

    def on_epoch_end(self, trainer, epoch, logs):
        for name, value in logs.items():
            if name != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"epoch/{name}", value, trainer.step)
        self.writer.flush()

    def on_train_end(self, trainer):
        self.writer.close()
