"""The run protocol: one path for every model family, as plain as nanoGPT's ``train.py``.

A run is::

    settings  (RunConfig.resolved: the table of defaults, the config file, the flags)   settings.py
    -> data   (prepare_data: a data set's parts, or a text's character ids)              prepare.py
    -> model  (build_model, build_loss; the family's registry entry)                     build.py, zoo.py
    -> loop   (Trainer by epochs, IterationTrainer by iterations)                        trainer.py, iterations.py
    -> checkpoints (best and last, atomic), history (JSON, CSV), curves                  loop.py, history.py, curves.py
    -> report (the best weights scored: test split, or the text's validation part)      report.py

and leaves the run directory described in :mod:`chainrule.train.rundir`. ``evaluate``, ``predict``,
``generate`` and ``graph`` read any run directory back with :func:`load_run`. The training split is
divided once more: a ``val_fraction`` of it (10% by default, drawn with the run's seed) picks the best
epoch (by validation accuracy for a classifier); the test split is scored only at the end, with the
best epoch's weights.
"""

import dataclasses
import itertools
import math
import time
from pathlib import Path

import numpy as np

from .. import serialization
from ..data import Standardizer
from . import lm
from .build import build_loop, build_loss, build_model
from .checkpoint import load_checkpoint
from .curves import CurvesPainter
from .loop import BEST
from .metrics import predicted_classes
from .models import ModelInfo
from .prepare import describe_sizes, prepare_data
from .rundir import (claim, load_arrays, read_config, read_record, release, write_json)
from .report import report, result_line
from .settings import ConfigError, RunConfig, model_entry
from .trainer import evaluate, predict

__all__ = ["RunConfig", "ConfigError", "train_run", "resume_run", "load_run", "evaluate_run", "predict_run",
           "stream_run_text", "read_config", "prepare_data", "build_loss", "build_model", "model_info",
           "result_line"]


def train_run(config, run_dir, force=False, progress=True, log=None, distributed=False, callbacks=()):
    """Train as ``config`` says, writing everything into ``run_dir``, and score the best weights.

    Args:
        config: a :class:`RunConfig`.
        run_dir: the run directory (created if needed).
        force: replace the files of another run found in ``run_dir`` (otherwise refused).
        progress: show the progress (bars on a terminal, else one line per epoch or evaluation).
        log: a function called with lines worth showing (``print``), or ``None``.
        distributed: train data-parallel over the processes ``mpiexec`` started (see
            :mod:`chainrule.distributed`): ``batch_size`` is the global batch; rank 0 alone writes.
        callbacks: objects hooked into the loop (see :mod:`chainrule.train.callbacks`).

    Returns:
        The ``run.json`` record: data, model, and the results under ``"results"`` (``None`` on
        the ranks other than 0 of a distributed run).

    A start that fails before the first checkpoint removes what it wrote, so the same command can run
    again without ``--force``.
    """
    config = config.resolved()
    run_dir = Path(run_dir)
    with _processes(config, distributed) as group:
        created = claim(run_dir, force) if group.root else None
        try:
            return _run(config, run_dir, False, progress, log or _silent, group, callbacks)
        except BaseException:
            if group.root:
                release(run_dir, created)
            raise


def resume_run(run_dir, epochs=None, progress=True, log=None, distributed=False, callbacks=(), max_iters=None):
    """Continue the run in ``run_dir`` from its last checkpoint, with its own config, to ``epochs``
    epochs (or ``max_iters`` iterations) in all (by default the number it was started with; a cosine
    or step schedule, laid out over that number, cannot take another). The final weights and the
    history are those an uninterrupted run would have reached. Arguments and result as for
    :func:`train_run`."""
    config = read_config(run_dir)
    if epochs is not None and epochs != config.epochs and config.schedule in ("cosine", "step"):
        raise ConfigError(f"the {config.schedule} schedule of this run is set for {config.epochs} "
                          f"epochs; it cannot resume with --epochs {epochs}")
    # After lr_decay_iters the learning rate stays at min_lr: more iterations extend a finished decay.
    config = dataclasses.replace(config, epochs=epochs or config.epochs, max_iters=max_iters or config.max_iters)
    config = config.resolved()
    with _processes(config, distributed) as group:
        return _run(config, Path(run_dir), True, progress, log or _silent, group, callbacks)


def _processes(config, distributed):
    """The run's processes (see :func:`chainrule.distributed.runs.run_processes`)."""
    from ..distributed.runs import run_processes
    if distributed and config.loop != "epochs":
        raise ConfigError(f"--distributed trains the epoch-based models (--model mlp, cnn...); --model "
                          f"{config.model}'s iterations run in one process")
    return run_processes(distributed, config.to_dict())


def _run(config, run_dir, resume, progress, log, group, callbacks):
    if not group.root:
        return _run_with(None, config, run_dir, resume, False, _silent, group, callbacks)
    with CurvesPainter() as painter:  # Matplotlib imported by a child process while the model trains
        return _run_with(painter, config, run_dir, resume, progress, log, group, callbacks)


def _run_with(painter, config, run_dir, resume, progress, log, group, callbacks):
    started = time.perf_counter()
    # data
    data = prepare_data(config)
    config = config.for_data(data.task, data.train_size)
    # model
    model = build_model(config, data.info).to(config.device)  # before its optimiser, as in PyTorch
    entry = model_entry(config.model)
    record = {"data": data.description,
              "model": {"name": config.model, "kind": entry.description(config, data.info, model),
                        "info": data.info.to_dict()}}
    if group.root:
        if resume:
            serialization.remove_stale_temporaries(run_dir)
        write_json(run_dir / "config.json", config.to_dict())
        write_json(run_dir / "run.json", record)
        if data.standardizer is not None:
            serialization.save(data.standardizer.state_dict(), run_dir / "standardizer.safetensors")
    unit = "characters" if data.task == "language-model" else "examples"
    log(f"data: {data.name}, {describe_sizes(data.description['sizes'], unit)}")
    total = config.epochs if entry.loop == "epochs" else config.max_iters
    log(f"model: {record['model']['kind']}" + (f", {config.activation}" if config.activation else "")
        + f"; {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, {total} {entry.loop}")
    parallel = None
    if group.size > 1:
        from ..distributed import DistributedDataParallel
        parallel = DistributedDataParallel(model)
        log(f"processes: {group.describe()}; batch {config.batch_size} in all")
    # loop
    loss = build_loss(config, data.info)
    loop = build_loop(config, model, loss, data, run_dir, progress, log, parallel, callbacks)
    history = loop.fit(data.parts["train"], data.parts.get("val"), total, resume=resume)
    if not group.root:
        return None
    # history, curves
    history.to_json(run_dir / "history.json")
    history.to_csv(run_dir / "history.csv")
    painter.plot(run_dir / "history.json", run_dir / "curves.png",
                 title=f"{data.name}: {record['model']['kind']}", best_epoch=loop.monitor.best_epoch)
    # report: the best weights scored
    model.load_state_dict(loop.best_checkpoint()["model"])
    results = {"position": loop.POSITION, "done": loop.position, "best": loop.monitor.best_epoch,
               "monitor": loop.monitor.metric, "training_seconds": sum(history["seconds"]),
               "seconds": time.perf_counter() - started}
    if data.task == "language-model":
        results.update(val_loss=_language_model_loss(model, config, data.parts["val"]),
                       val_loss_batches=config.final_eval_iters,
                       sample=_sample(model, lm.run_vocabulary(record)))
    else:
        results.update(test=evaluate(model, loss, data.parts["test"]), epochs=loop.position,
                       best_epoch=loop.monitor.best_epoch)
    record["results"] = results
    write_json(run_dir / "run.json", record)
    serialization.write_atomic(run_dir / "report.md", report(config, record))
    log(f"best {loop.POSITION}: {loop.monitor.best_epoch} of {loop.position} (by {loop.monitor.metric}); "
        f"{results['training_seconds']:.1f} s of training; run directory: {run_dir}")
    return record


def _language_model_loss(model, config, ids):
    """The validation loss of the final report: ``final_eval_iters`` batches, drawn with seed 0."""
    return lm.estimate_loss(model, ids, lm.windows(config), config.final_eval_iters, np.random.default_rng(0))


def _sample(model, vocabulary):
    return "".join(lm.stream_text(model, vocabulary, "\n", 300, seed=0))


# -- reading runs back ----------------------------------------------------------------------------

def load_run(run_dir):
    """The config, ``run.json`` record, standardizer (``None`` for token or text inputs) and best
    model of a run directory.

    Raises:
        CheckpointError: naming what is missing or unreadable.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir).resolved()
    record = read_record(run_dir)
    standardizer = None
    if model_entry(config.model).inputs in ("flat", "shaped"):
        standardizer = Standardizer()
        standardizer.load_state_dict(load_arrays(run_dir / "standardizer.safetensors"))
    model = build_model(config, model_info(record))
    model.load_state_dict(load_checkpoint(run_dir / BEST)["model"])
    return config, record, standardizer, model.eval()


def model_info(record):
    """The :class:`~chainrule.train.models.ModelInfo` a run's ``run.json`` record keeps."""
    if "info" in record["model"]:
        return ModelInfo.from_dict(record["model"]["info"])
    sizes = record["model"]["sizes"]  # a run written before the model registry: always an MLP
    return ModelInfo((sizes[0],), sizes[-1], record["data"]["task"])


def evaluate_run(run_dir):
    """Score the best weights of a run again: on the test split (``loss`` and ``accuracy`` and
    ``per_class_accuracy``, or ``loss`` and ``rmse``), or for a language model on its text's
    validation part (``loss``, over ``final_eval_iters`` batches)."""
    config, record, _, model = load_run(run_dir)
    data = prepare_data(config)
    if data.task == "language-model":
        return {"loss": _language_model_loss(model, config.for_data(data.task, data.train_size),
                                             data.parts["val"])}
    return evaluate(model, build_loss(config, model_info(record)), data.parts["test"])


def predict_run(run_dir, x):
    """The predictions of a run's best model for raw feature rows ``x`` (in the data set's units:
    the standardisation is applied here): class indices for a classifier, values for a regression.

    Raises:
        ConfigError: when the rows do not have the model's number of features, or the run is a
            language model (which continues text: ``chainrule generate``).
    """
    refuse_language_model(run_dir, "predict")
    config, record, standardizer, model = load_run(run_dir)
    shape = model_info(record).input_shape
    features = math.prod(shape)
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ConfigError(f"the input must hold numbers, not {x.dtype}")
    if x.size == features and x.ndim in (1, len(record["data"]["feature_shape"]), len(shape)):
        x = x.reshape(1, features)
    if x.ndim < 2 or len(x) == 0 or math.prod(x.shape[1:]) != features:
        raise ConfigError(f"the input has shape {x.shape}, but the model takes rows of {features} "
                          f"features: shape (n, {features})")
    x = x.reshape(len(x), features)
    _refuse_missing_values(x)
    if standardizer is not None:
        x = standardizer.transform(x).astype(np.float32)
    outputs = predict(model, x.reshape(len(x), *shape))
    return predicted_classes(outputs) if record["data"]["task"] == "classification" else outputs


def refuse_language_model(run_dir, command):
    """Refuse a language-model run for ``command`` (which reads classes or values), saying what fits."""
    del command  # the command line names it
    config = read_config(run_dir)
    if model_entry(config.model or "mlp").inputs == "text":
        raise ConfigError(f"{run_dir} is a language model (--model {config.model}): it continues "
                          f"text rather than predicting classes; use chainrule generate {run_dir} --prompt TEXT")


def stream_run_text(run_dir, prompt="\n", tokens=300, temperature=1.0, top_k=None, seed=0):
    """The prompt, then the characters a language-model run's best weights sample after it, as they
    come (reproducible for a seed).

    Raises:
        ConfigError: when the run is not a language model.
        DataError: when the prompt does not fit the model (see :func:`chainrule.train.lm.stream_text`).
    """
    config, record, _, model = load_run(run_dir)
    if record["data"]["task"] != "language-model":
        raise ConfigError(f"{run_dir} is not a language model: it is {record['model']['kind']} classifying "
                          f"{record['data']['name']}; generate samples text from --model gpt runs")
    return itertools.chain([prompt], lm.stream_text(model, lm.run_vocabulary(record), prompt, tokens, temperature,
                                                   top_k, seed))


def _refuse_missing_values(x):
    """Refuse rows holding NaN or infinity, naming them (a model would silently predict class 0)."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        listed = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        raise ConfigError(f"{len(rows)} input row(s) hold NaN or infinite values: row(s) {listed} "
                          f"(counting from 0); fill or drop them first")


def _silent(line):
    pass

