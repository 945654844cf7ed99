"""The run directory: the files a run leaves, written atomically, and read back by every command.

========================== ==================================================================
``config.json``            the settings used (give it back with ``chainrule train --config``)
``run.json``               the data's and the model's description, and the results
``standardizer.safetensors`` the feature means and deviations, fitted on the training part only
                           (runs on feature values)
``last.safetensors``       the checkpoint after the last epoch or evaluation (``--resume``)
``best.safetensors``       the checkpoint of the best record (what is scored, predicted, sampled)
``history.json``, ``.csv`` one record per epoch (or evaluation): losses, scores, learning rate, seconds
``curves.png``             the learning curves
``report.md``              a short report: data, model, settings, results, time
========================== ==================================================================
"""

import json
from pathlib import Path

from .. import serialization
from ..errors import CheckpointError
from .loop import BEST, LAST
from .settings import ConfigError, RunConfig

RUN_FILES = ("config.json", "run.json", "standardizer.safetensors", LAST, BEST, "history.json",
             "history.csv", "curves.png", "report.md")


def claim(run_dir, force):
    """Refuse a directory that holds another run, unless ``force``, which clears that run's files.

    Returns:
        The outermost directory that had to be created, or ``None`` (a failed start removes it again:
        :func:`release`).
    """
    run_dir = Path(run_dir)
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if existing and not force:
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or --force "
                          f"to replace it")
    for name in existing:
        (run_dir / name).unlink()
    created = None
    for directory in (run_dir, *run_dir.parents):
        if directory.exists():
            break
        created = directory
    run_dir.mkdir(parents=True, exist_ok=True)
    serialization.remove_stale_temporaries(run_dir)
    return created


def started(run_dir):
    """Whether a run in ``run_dir`` has written a checkpoint (something to resume)."""
    return any((Path(run_dir) / name).is_file() for name in (LAST, BEST))


def release(run_dir, created):
    """Undo a start that failed before its first checkpoint: remove the files it wrote (and the
    directory, when the start created it), so that the same command can simply run again."""
    run_dir = Path(run_dir)
    if started(run_dir):
        return
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    serialization.remove_stale_temporaries(run_dir)
    if created is None:
        return
    for directory in (run_dir, *run_dir.parents):
        try:
            directory.rmdir()
        except OSError:  # something else was put there meanwhile: leave it
            return
        if directory == Path(created):
            return


def write_json(path, value):
    serialization.write_atomic(path, json.dumps(value, indent=1) + "\n")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except ValueError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


def load_arrays(path):
    try:
        return serialization.load(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None


def read_config(run_dir):
    """The :class:`RunConfig` saved in a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"no run directory at {run_dir}")
    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir.resolve()} holds no run (no config.json): give the directory "
                              f"chainrule train wrote (its --out)")
    return RunConfig.from_dict(read_json(run_dir / "config.json"), source=str(run_dir / "config.json"))


def read_record(run_dir):
    """The ``run.json`` record of a run directory."""
    return read_json(Path(run_dir) / "run.json")
