"""The ``chainrule`` command.

Each subcommand is two functions registered with :func:`command`: one adds its arguments to its
parser, the other runs it with the parsed arguments and returns the exit status. To add one::

    def _hello_arguments(parser):
        parser.add_argument("name", help="who to greet")

    @command("hello", "greet someone", _hello_arguments)
    def _hello(args):
        print(f"hello, {args.name}")
        return 0

Exit status: 0 on success, 2 for a malformed command line (argparse), 1 for a bad value, missing or
broken data, a missing or corrupt checkpoint, with one line on standard error.
"""

import argparse
import contextlib
import dataclasses
import difflib
import io
import json
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ChainruleError

COMMANDS = {}

_EXAMPLES = """examples:
  chainrule train                           an MLP on digits: about 97.5% test accuracy in seconds
  chainrule train --data mnist1d --out runs/m1d      MNIST-1D with its own defaults: about 71%
  chainrule train --config settings.toml --lr 3e-4       flags override the file's settings
  chainrule train --out runs/m1d --resume   continue an interrupted run
  chainrule evaluate runs/m1d               score the saved best model on the test split again
  chainrule predict runs/m1d inputs.npy --out predictions.npy
"""


def command(name, summary, add_arguments):
    """Register a subcommand: decorate ``run(args) -> exit status``.

    Args:
        name: the subcommand's name on the command line.
        summary: one line for ``chainrule --help``.
        add_arguments: ``add_arguments(parser)`` adds the subcommand's arguments.
    """
    def register(run):
        COMMANDS[name] = (summary, add_arguments, run)
        return run
    return register


def build_parser():
    """The argument parser of ``chainrule`` with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="chainrule", epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="chainrule: automatic differentiation and deep learning on NumPy, with the "
                    "machinery in sight.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    _program_arguments(parser)
    subparsers = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    parser.commands = {}
    for name, (summary, add_arguments, run) in COMMANDS.items():
        description = summary[0].upper() + summary[1:] + "."
        subparser = subparsers.add_parser(name, help=summary, description=description)
        add_arguments(subparser)
        if not subparser.get_default("passes_flags_on"):  # bench hands every flag to its suite
            _program_arguments(subparser.add_argument_group("program"))
        subparser.set_defaults(run=run)
        parser.commands[name] = subparser
    return parser


def _program_arguments(parser):
    """The flags of the program itself, taken before or after the subcommand."""
    parser.add_argument("--threads", type=_threads, default=argparse.SUPPRESS, metavar="N",
                        help="BLAS threads (default: the cores this process may use that other processes "
                             "leave idle when the command starts, at least 1)")


def usable_cores():
    """The number of cores this process may run on (its CPU affinity, where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(probe_seconds=0.15):
    """The BLAS threads a command uses by default: the usable cores less those other processes keep
    busy, measured over ``probe_seconds`` from ``/proc/stat`` (all usable cores where it cannot be
    read). OpenBLAS's threads wait for each other actively, so a thread on a core another process
    holds slows every product down (12x measured); a second thread pays only on an idle core."""
    cores = usable_cores()
    if cores == 1:
        return 1
    busy = busy_cores(probe_seconds)
    return cores if busy is None else max(1, min(cores, round(cores - busy)))


def busy_cores(seconds):
    """How many of this process's usable cores other processes kept busy over ``seconds`` (a float),
    or ``None`` where ``/proc/stat`` cannot be read."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    def times():
        with open("/proc/stat") as stat:
            rows = [line.split() for line in stat if line.startswith("cpu") and not line.startswith("cpu ")]
        # fields: user nice system idle iowait irq softirq steal; idle and iowait are the idle time
        return {int(row[0][3:]): (sum(map(int, row[1:9])), int(row[4]) + int(row[5])) for row in rows
                if allowed is None or int(row[0][3:]) in allowed}
    try:
        before = times()
        time.sleep(seconds)
        after = times()
    except (OSError, ValueError, IndexError):
        return None
    busy = 0.0
    for cpu, (total, idle) in after.items():
        elapsed = total - before[cpu][0]
        if elapsed > 0:
            busy += 1 - (idle - before[cpu][1]) / elapsed
    return busy


def _threads(text):
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of threads, not {text!r}")
    return threads


def _parse(argv):
    """Parse ``argv``; an unknown flag is refused naming the closest known one."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "passes_flags_on", False):
        args.options, unknown = [*unknown, *args.options], []
    if unknown:
        subparser = parser.commands[args.command]
        known = [flag for action in subparser._actions for flag in action.option_strings]
        flag = unknown[0].split("=")[0]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close and flag.startswith("-") else ""
        subparser.error(f"unrecognized argument{'s' if len(unknown) > 1 else ''}: {' '.join(unknown)}{hint}")
    return args


def main(argv=None):
    """Run the ``chainrule`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from threadpoolctl import threadpool_limits
    args = _parse(argv)
    try:
        threads = getattr(args, "threads", None) or _default_threads(args)
        with threadpool_limits(limits=threads), _processes_fail_together(args):
            return args.run(args)
    except (ChainruleError, OSError) as error:
        message = " ".join(_describe(error).split())
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted{getattr(args, 'on_interrupt', lambda: '')()}",
              file=sys.stderr)
        return 130


# The commands whose time goes into BLAS products: they probe for idle cores before choosing threads.
_COMPUTING = ("train", "evaluate", "predict", "generate", "graph", "experiment")


def _default_threads(args):
    if getattr(args, "distributed", False):
        return 1  # the ranks share the cores: one thread each (see docs/distributed.md)
    return default_threads() if args.command in _COMPUTING else usable_cores()


def _processes_fail_together(args):
    """With --distributed, join the MPI job first, so that a failure on any rank ends every rank."""
    if not getattr(args, "distributed", False):
        return contextlib.nullcontext()
    from .distributed import abort_on_error, init
    init()
    return abort_on_error()


def _describe(error):
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return str(error)


# -- train ----------------------------------------------------------------------------------------

def _train_arguments(parser):
    from .train.settings import RunConfig, describe_default
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
        from .train.settings import data_choices
        return ": " + data_choices()
    if name == "model":
        from .train.models import available_models, get_model
        return ": " + ", ".join(f"{model} ({get_model(model).summary})" if get_model(model).summary else model
                                for model in available_models())
    return ""


def _model_settings_arguments(parser):
    """The flags of the models' own settings (``--model NAME``'s), one group."""
    from .train.models import all_settings
    settings = all_settings()
    if not settings:
        return
    group = parser.add_argument_group("model settings", "settings of particular models")
    for name, (setting, models) in settings.items():
        group.add_argument("--" + name.replace("_", "-"), dest=f"option_{name}", metavar=setting.metavar,
                           help=f"{setting.help} (--model {', '.join(models)}; default {setting.default})")


def _given_settings(args):
    """The settings given as flags, by RunConfig name, the models' own included."""
    from .train.settings import RunConfig
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
        from .train.report import result_line
        print(result_line(record))
    return 0


def _train_or_resume(args, given, log):
    from .train.runs import ConfigError, RunConfig, resume_run, train_run
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
    from .inspect.recorder import DEFAULT_EVERY
    group.add_argument("--record-every", type=_non_negative, default=DEFAULT_EVERY, metavar="N",
                       help=f"log each weight's gradient norm and dead units every N steps for chainrule "
                            f"view (default {DEFAULT_EVERY}; 0: off; every step's loss is logged anyway)")
    group.add_argument("--tensorboard", action="store_true",
                       help="also write TensorBoard event files into RUN_DIR/tensorboard (the tensorboard "
                            "extra: tensorboardX)")


def _recorders(args, out):
    """The callbacks writing what chainrule view (and TensorBoard) read."""
    from .inspect.recorder import DEFAULT_EVERY, RunRecorder
    callbacks = [RunRecorder(out, every=args.record_every)]
    if args.tensorboard:
        from .inspect.tensorboard import TENSORBOARD_DIR, TensorBoardCallback
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
    from .train.rundir import started
    if not started(out):
        return f"; nothing was saved yet, nothing to resume in {out}"
    return f"; continue with: chainrule train --resume --out {out}"


def _read_settings(path):
    from .train.runs import ConfigError
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


# -- evaluate and predict -------------------------------------------------------------------------

def _run_dir_argument(parser):
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory made by chainrule train")


@command("evaluate", "score a trained run's best model again: on its data set's test split, or a language "
         "model on its text's validation part", _run_dir_argument)
def _evaluate(args):
    from .train.metrics import score_line
    from .train.runs import evaluate_run
    scores = evaluate_run(args.run_dir)
    if len(scores) == 1:  # a language model: its loss alone
        print(f"validation loss: {scores['loss']:.4f} nats per character")
        return 0
    print(f"test loss: {scores['loss']:.4f}")
    if "per_class_accuracy" in scores:
        print("per-class accuracy: " + ", ".join(f"{label}: {value:.1%}" for label, value
                                                 in enumerate(scores["per_class_accuracy"])))
    print(score_line(scores))
    return 0


def _predict_arguments(parser):
    _run_dir_argument(parser)
    parser.add_argument("input", type=Path, metavar="INPUT.npy", nargs="?",
                        help="feature rows, shape (n, features), in the data set's own units")
    parser.add_argument("--out", type=Path, metavar="FILE.npy",
                        help="where to write the predictions (default INPUT-predictions.npy)")
    parser.add_argument("--text", action="append", metavar="TEXT",
                        help="for a text run (--data sentiment): a sentence whose class probabilities to "
                             "print (repeatable); no INPUT.npy then")
    parser.add_argument("--text-file", type=Path, metavar="FILE",
                        help="for a text run: a file of sentences, one per line")


@command("predict", "write a trained run's predictions (classes or values) for the rows of a .npy file",
         _predict_arguments)
def _predict(args):
    from .train.runs import ConfigError, predict_run, refuse_language_model
    refuse_language_model(args.run_dir, "predict")
    if args.text or args.text_file:
        return _predict_texts(args)
    if args.input is None:
        raise ConfigError("give INPUT.npy (feature rows), or --text / --text-file for a text run")
    x = _read_npy(args.input)
    predictions = predict_run(args.run_dir, x)
    out = args.out or args.input.with_name(f"{args.input.stem}-predictions.npy")
    from .serialization import write_atomic
    buffer = io.BytesIO()
    np.save(buffer, predictions)
    write_atomic(out, buffer.getvalue())
    kind = "classes" if predictions.dtype.kind == "i" else "values"
    print(f"wrote {len(predictions)} predicted {kind} to {out}")
    return 0


def _read_npy(path):
    """The array in a ``.npy`` file, or one line saying why the file is not one."""
    from .train.runs import ConfigError
    with open(path, "rb") as file:  # a missing file: OSError, reported with its name
        head = file.read(6)
    if head != b"\x93NUMPY":
        kind = "it is empty" if not head else f"it starts with {head!r}, not a .npy file's \\x93NUMPY"
        raise ConfigError(f"cannot read {path} as a NumPy .npy array: {kind}; save feature rows with "
                          f"numpy.save(path, rows)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ConfigError(f"{path} holds Python objects, not numbers: save feature rows as a numeric "
                              f"array (numpy.save(path, rows.astype('float32')))") from None
        raise ConfigError(f"cannot read {path} as a NumPy .npy array: {error}") from None
    except EOFError:
        raise ConfigError(f"cannot read {path} as a NumPy .npy array: it is cut short") from None


def _predict_texts(args):
    """One line per text: P(positive) for a two-class run, else the likeliest class and its probability."""
    from .train.runs import ConfigError
    from .train.text import predict_texts
    if args.input is not None:
        raise ConfigError("give either INPUT.npy or --text/--text-file, not both")
    texts = list(args.text or [])
    if args.text_file is not None:
        try:
            lines = [line.strip() for line in args.text_file.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
        except OSError as error:
            raise ConfigError(f"cannot read {args.text_file}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{args.text_file} is not UTF-8 text: {error.reason} at byte {error.start}") from None
        if not lines:
            raise ConfigError(f"--text-file {args.text_file} holds no text: give one sentence per line")
        texts += lines
    probabilities = predict_texts(args.run_dir, texts)
    for text, row in zip(texts, probabilities, strict=True):
        if len(row) == 2:
            print(f"P(positive) = {row[1]:.3f}  {text}")
        else:
            print(f"class {int(row.argmax())} (p = {row.max():.3f})  {text}")
    return 0


# -- rules ----------------------------------------------------------------------------------------

@command("rules", "print which primitives have reverse-mode and forward-mode rules", lambda parser: None)
def _rules(args):
    from .coverage import format_rules
    print(format_rules())
    return 0


# -- graph ----------------------------------------------------------------------------------------

def _graph_arguments(parser):
    _run_dir_argument(parser)
    parser.add_argument("--out", metavar="FILE", help="picture to write, .svg or .png (default: "
                        "RUN_DIR/graph.svg); the DOT source is written beside it as .dot")
    parser.add_argument("--examples", type=int, default=4, metavar="N",
                        help="how many test examples the pictured batch holds (default: 4)")


@command("graph", "draw a trained run's forward and backward graph for a small batch", _graph_arguments)
def _graph(args):
    from .inspect import graph
    from .inspect.graphs import GraphvizNotInstalled
    from .serialization import write_atomic
    from .train.runs import ConfigError, build_loss, load_run, model_info, prepare_data
    if args.examples < 1:
        raise ConfigError(f"--examples must be a positive number of examples, not {args.examples}")
    config, record, _, model = load_run(args.run_dir)
    data = prepare_data(config)
    if data.task == "language-model":  # a few windows of the validation text, cut to 8 characters
        from .data.shakespeare import get_batch
        x, y = get_batch(data.parts["val"], min(8, config.options["block_size"]), args.examples,
                         np.random.default_rng(0))
        function = lambda x, y: model(x, y)[1]  # noqa: E731 (the GPT computes its own loss)
    else:
        x, y = (part[:args.examples] for part in data.parts["test"])
        loss = build_loss(config, model_info(record))
        function = lambda x, y: loss(model(x), y)  # noqa: E731
    picture = graph(function, x, y, model=model)
    out = Path(args.out or Path(args.run_dir) / "graph.svg")
    dot_path = out.with_suffix(".dot")
    write_atomic(dot_path, picture.source)
    try:
        write_atomic(out, picture.pipe(format=out.suffix[1:] or "svg"))
    except GraphvizNotInstalled as error:
        raise ChainruleError(f"wrote {dot_path} but not {out}: {error}") from None
    print(f"wrote {out} and {dot_path}")
    return 0


# -- generate -------------------------------------------------------------------------------------

def _generate_arguments(parser):
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run of `chainrule train --model gpt`")
    parser.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    parser.add_argument("--tokens", type=int, default=300, metavar="N",
                        help="how many characters to add, printed as they are sampled (default 300)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="a positive number dividing the scores: below 1 more conservative, above 1 more "
                             "adventurous (default 1)")
    parser.add_argument("--top-k", type=int, default=None, metavar="K",
                        help="sample only among the K most likely characters, K at least 1 (default: all of "
                             "them; unlike PyTorch's and Hugging Face's top_k=0, 0 is refused)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed gives the same text")


@command("generate", "sample text from a trained language model (one cached step per character)",
         _generate_arguments)
def _generate(args):
    import math

    from .train.runs import ConfigError, stream_run_text
    if args.tokens < 0:
        raise ConfigError(f"--tokens must be 0 or more characters, not {args.tokens}")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise ConfigError(f"--temperature must be a positive number, not {args.temperature:g} (below 1 is more "
                          f"conservative; for the likeliest character alone use --top-k 1)")
    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, not {args.top_k} (leave it out to sample among all "
                          f"characters)")
    for piece in stream_run_text(args.run_dir, args.prompt, args.tokens, args.temperature, args.top_k, args.seed):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


# -- bench ----------------------------------------------------------------------------------------

def _bench_arguments(parser):
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="options of `python -m benchmarks` (--quick, --only WORKLOAD, --threads N)")
    parser.set_defaults(passes_flags_on=True)


@command("bench", "time chainrule against PyTorch, JAX, HIPS autograd and NumPy (from a source checkout)",
         _bench_arguments)
def _bench(args):
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "benchmarks" / "__main__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))  # an editable install: the suite sits beside the package
    try:
        from benchmarks.__main__ import main as run_benchmarks
    except ModuleNotFoundError as error:
        if error.name not in ("benchmarks", "benchmarks.__main__"):
            raise ChainruleError(f"the benchmark suite needs {error.name}: pip install -e \".[bench]\" "
                                 f"(PyTorch, JAX and HIPS autograd)") from None
        raise ChainruleError("the benchmark suite lives in the source repository's benchmarks/ folder: "
                             "run `chainrule bench` from a checkout installed with "
                             "`pip install -e \".[bench]\"`") from None
    return run_benchmarks(args.options) or 0


# -- experiment -----------------------------------------------------------------------------------

def _experiment_arguments(parser):
    from .experiments.cli import configure_parser
    configure_parser(parser)


@command("experiment", "reproduce a classic claim about backpropagation as a report with tables and "
         "figures", _experiment_arguments)
def _experiment(args):
    from .experiments.cli import execute
    return execute(args)


# -- view -----------------------------------------------------------------------------------------

def _view_arguments(parser):
    from .view.command import add_arguments
    add_arguments(parser)


@command("view", "the machinery in the browser: curves, gradient flow, graphs... of runs, live", _view_arguments)
def _view(args):
    from .view.command import run
    return run(args)
