"""The model stage of a run: the model, its loss, the optimiser, the schedule and the loop, from the
settings and the data's description."""

from .. import optim
from .callbacks import EarlyStopping, Monitor
from .iterations import IterationTrainer
from .lm import lr_at, windows
from .metrics import score_name
from .settings import DEFAULT_MOMENTUM, LOSSES, OPTIMIZERS, model_entry
from .trainer import Trainer


def build_model(config, info):
    """The model the config names (``config.model``), for data described by ``info``."""
    return model_entry(config.model).build(config, info)


def build_loss(config, info):
    """The loss: the model's own when its entry has one, else the task's ``--loss`` (``None`` for a
    model that computes its own, such as the GPT)."""
    entry = model_entry(config.model)
    if entry.loss is not None:
        return entry.loss(config, info)
    if info.task not in LOSSES:
        return None
    return LOSSES[info.task][config.loss]()


def build_optimizer(config, model):
    """The optimiser the config names, with its settings, over the model's parameter groups."""
    entry = model_entry(config.model)
    parameters = entry.param_groups(model, config) if entry.param_groups else list(model.parameters())
    settings = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in DEFAULT_MOMENTUM:
        settings["momentum"] = config.momentum
    if config.optimizer == "sgd":
        settings["nesterov"] = config.nesterov
    if config.optimizer in ("adam", "adamw"):
        settings["betas"] = tuple(config.betas)
    return OPTIMIZERS[config.optimizer](parameters, **settings)


def build_scheduler(config, optimizer):
    """The learning-rate schedule of an epoch loop: constant, cosine annealing to 0 over the run, a
    tenfold decay after each third of the run, or halving after 5 epochs without a better validation
    loss. (An iteration loop's warmup-cosine is :func:`chainrule.train.lm.lr_at`.)"""
    if config.schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3))
    if config.schedule == "plateau":
        return optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=5)
    return None


def best_metric(task, has_val):
    """The record that picks the best epoch: the score the user reads (validation accuracy for a
    classifier, validation RMSE for a regression, validation loss for a language model); the
    training loss when nothing is held out."""
    if not has_val:
        return "loss"
    return "val_loss" if task == "language-model" else f"val_{score_name(task)}"


def build_loop(config, model, loss, data, run_dir, progress, log, distributed=None, callbacks=()):
    """The training loop of a run, checkpointing into ``run_dir``: a
    :class:`~chainrule.train.Trainer` for models trained by epochs (data-parallel with a
    ``distributed`` :class:`~chainrule.distributed.DistributedDataParallel`), an
    :class:`~chainrule.train.IterationTrainer` for those trained by iterations."""
    entry = model_entry(config.model)
    optimizer = build_optimizer(config, model)
    metric = best_metric(data.task, "val" in data.parts)
    tiebreak = "val_loss" if metric.startswith("val_") and metric != "val_loss" else None
    if entry.loop == "iterations":
        objective = entry.objective or (lambda model, x, y: loss(model(x), y))
        schedule = (lambda iteration: lr_at(iteration, config)) if config.schedule == "warmup-cosine" else None
        return IterationTrainer(model, objective, optimizer, windows(config), lr_at=schedule,
                                clip_grad_norm=config.clip_grad_norm, eval_interval=config.eval_interval,
                                eval_iters=config.eval_iters, monitor=Monitor(metric), callbacks=callbacks,
                                seed=config.seed, progress=progress, checkpoint_dir=run_dir,
                                compile=config.compile, log=log)
    stopping = None if config.patience is None else EarlyStopping(metric, config.patience, tiebreak=tiebreak)
    return Trainer(model, loss, optimizer, batch_size=config.batch_size, drop_last=config.norm == "batch",
                   scheduler=build_scheduler(config, optimizer), clip_grad_norm=config.clip_grad_norm,
                   early_stopping=stopping, monitor=Monitor(metric, tiebreak=tiebreak), callbacks=callbacks,
                   seed=config.seed, progress=progress, checkpoint_dir=run_dir, distributed=distributed,
                   compile=config.compile, log=log)
