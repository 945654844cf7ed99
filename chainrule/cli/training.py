"""``chainrule train``: a run from its settings, or ``--resume`` of a run directory."""

import argparse
import dataclasses
import json
import time
import tomllib
from pathlib import Path

import numpy as np

from .registry import command


def _train_arguments(parser):
    from ..train.settings import RunConfig, describe_default
    parser.epilog = ("Settings come from the defaults (some depend on the data set or the model), then "
                     "the --config file, then the flags; --help shows each default with the data sets' and "
                     "models' own. The run directory receives config.json, run.json, history.json/.csv, "
                     "curves.png, best.safetensors, last.safetensors and report.md (docs/runs.md). Models "
                     "trained by epochs hold out --val-fraction of the training split to pick the best epoch "
                     "(by validation accuracy for a classifier), whose weights are scored on the test split; "
                     "--model gpt trains by iterations and keeps the evaluation with the lowest validation loss.")
    groups = {}
    for field in dataclasses.fields(RunConfig):
        meta = field.metadata
        if meta.get("group") is None:
            continue
        group = groups.get(meta["group"]) or groups.setdefault(meta["group"],
                                                               parser.add_argument_group(meta["group"]))
        flags = ["--" + field.name.replace("_", "-")] + _ALIASES.get(field.name, [])
        help = f"{meta['help']}{_choices(field.name)} (default {describe_default(field.name)})"
        if meta["parse"] is bool:
            group.add_argument(*flags, dest=field.name, action=argparse.BooleanOptionalAction, help=help)
        else:
            group.add_argument(*flags, dest=field.name, type=meta["parse"], metavar=meta["metavar"],
                               help=help)
    _model_settings_arguments(parser)
    run = parser.add_argument_group("run")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="settings from a TOML (or JSON) file, with the flags' names as keys")
    run.add_argument("--out", type=Path, metavar="RUN_DIR",
                     help="run directory (default runs/<data>-<date>-<time>)")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its last checkpoint, with its saved settings")
    run.add_argument("--force", action="store_true", help="replace a run already in --out")
    run.add_argument("--quiet", action="store_true", help="print only the final result")
    run.add_argument("--distributed", action="store_true",
                     help="data-parallel over the processes of `mpiexec -n N chainrule train --distributed`: "
                          "--batch-size is the global batch, rank 0 alone writes (see docs/distributed.md)")
    _recording_arguments(run)


_ALIASES = {"data": ["--dataset"]}


def _choices(name):
    """The choices of a setting whose list lives in a registry, for its help."""
    if name == "data":
        from ..train.settings import data_choices
        return ": " + data_choices()
    if name == "model":
        from ..train.models import available_models, get_model
        return ": " + ", ".join(f"{model} ({get_model(model).summary})" if get_model(model).summary else model
                                for model in available_models())
    return ""


def _model_settings_arguments(parser):
    """The flags of the models' own settings (``--model NAME``'s), one group."""
    from ..train.models import all_settings, boolean
    settings = all_settings()
    if not settings:
        return
    group = parser.add_argument_group("model settings", "settings of particular models")
    for name, (setting, models) in settings.items():
        switch = {"nargs": "?", "const": "true"} if setting.parse is boolean else {}  # --freeze alone: true
        group.add_argument("--" + name.replace("_", "-"), dest=f"option_{name}", metavar=setting.metavar,
                           help=f"{setting.help} (--model {', '.join(models)}; default {setting.default})",
                           **switch)


def _given_settings(args):
    """The settings given as flags, by RunConfig name, the models' own included."""
    from ..train.settings import RunConfig
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(RunConfig)
             if getattr(args, field.name, None) is not None}
    given.update({key[len("option_"):]: value for key, value in vars(args).items()
                  if key.startswith("option_") and value is not None})
    return given


@command("train", "train a model (an MLP by default) on a bundled data set or a text, and score it",
         _train_arguments)
def _train(args):
    log = None if args.quiet else print
    # A diverging run ends with one clear error naming the epoch and step, not NumPy's warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        record = _train_or_resume(args, _given_settings(args), log)
    if record is not None:  # None on the ranks other than 0 of a distributed run
        from ..train.report import result_line
        print(result_line(record))
    return 0


def _train_or_resume(args, given, log):
    from ..train.runs import ConfigError, RunConfig, resume_run, train_run
    if args.resume:
        if args.out is None:
            raise ConfigError("--resume needs --out RUN_DIR, the run to continue")
        args.on_interrupt = lambda: _resume_hint(args.out)
        changed = sorted(set(given) - {"epochs", "max_iters"}) + (["config"] if args.config else [])
        if changed:
            raise ConfigError(f"--resume continues {args.out} with its saved settings; only --epochs (or "
                              f"--max-iters) may change, not --{', --'.join(name.replace('_', '-') for name in changed)}")
        return resume_run(args.out, epochs=given.get("epochs"), max_iters=given.get("max_iters"),
                          progress=not args.quiet, log=log, distributed=args.distributed,
                          callbacks=_recorders(args, args.out))
    settings = _read_settings(args.config) if args.config else {}
    config = RunConfig.from_dict({**settings, **given}, source=str(args.config or "flags"))
    resolved = config.resolved()  # the directory's name needs the data set (a model may choose it)
    out = args.out or Path("runs") / f"{Path(resolved.data).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    args.on_interrupt = lambda: _resume_hint(out)
    return train_run(config, out, force=args.force, progress=not args.quiet, log=log,
                     distributed=args.distributed, callbacks=_recorders(args, out))


def _recording_arguments(group):
    from ..inspect.recorder import DEFAULT_EVERY
    group.add_argument("--record-every", type=_non_negative, default=DEFAULT_EVERY, metavar="N",
                       help=f"log each weight's gradient norm and dead units every N steps for chainrule "
                            f"view (default {DEFAULT_EVERY}; 0: off; every step's loss is logged anyway)")
    group.add_argument("--tensorboard", action="store_true",
                       help="also write TensorBoard event files into RUN_DIR/tensorboard (the tensorboard "
                            "extra: tensorboardX)")


def _recorders(args, out):
    """The callbacks writing what chainrule view (and TensorBoard) read."""
    from ..inspect.recorder import DEFAULT_EVERY, RunRecorder
    callbacks = [RunRecorder(out, every=args.record_every)]
    if args.tensorboard:
        from ..inspect.tensorboard import TENSORBOARD_DIR, TensorBoardCallback
        every = args.record_every or DEFAULT_EVERY
        callbacks.append(TensorBoardCallback(Path(out) / TENSORBOARD_DIR, every=every))
    return callbacks


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number of steps, not {text!r}")
    return value


def _resume_hint(out):
    from ..train.rundir import started
    if not started(out):
        return f"; nothing was saved yet, nothing to resume in {out}"
    return f"; continue with: chainrule train --resume --out {out}"


def _read_settings(path):
    from ..train.runs import ConfigError
    try:
        with open(path, "rb") as file:
            settings = json.load(file) if path.suffix == ".json" else tomllib.load(file)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not a valid {'JSON' if path.suffix == '.json' else 'TOML'} "
                          f"file: {error}") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: the settings must be a table of names and values, not a "
                          f"{type(settings).__name__}")
    return settings
