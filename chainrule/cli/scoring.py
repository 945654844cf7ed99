"""``chainrule evaluate`` and ``chainrule predict``: a trained run scored again, or its predictions."""

import io
from pathlib import Path

import numpy as np

from .registry import command, run_dir_argument


@command("evaluate", "score a trained run's best model again: on its data set's test split, or a language "
         "model on its text's validation part", run_dir_argument)
def _evaluate(args):
    from ..train.metrics import score_line
    from ..train.runs import evaluate_run
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
    run_dir_argument(parser)
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
    from ..train.runs import ConfigError, predict_run, refuse_language_model
    refuse_language_model(args.run_dir, "predict")
    if args.text or args.text_file:
        return _predict_texts(args)
    if args.input is None:
        raise ConfigError("give INPUT.npy (feature rows), or --text / --text-file for a text run")
    x = _read_npy(args.input)
    predictions = predict_run(args.run_dir, x)
    out = args.out or args.input.with_name(f"{args.input.stem}-predictions.npy")
    from ..serialization import write_atomic
    buffer = io.BytesIO()
    np.save(buffer, predictions)
    write_atomic(out, buffer.getvalue())
    kind = "classes" if predictions.dtype.kind == "i" else "values"
    print(f"wrote {len(predictions)} predicted {kind} to {out}")
    return 0


def _read_npy(path):
    """The array in a ``.npy`` file, or one line saying why the file is not one."""
    from ..train.runs import ConfigError
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
    from ..train.runs import ConfigError
    from ..train.text import predict_texts
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
