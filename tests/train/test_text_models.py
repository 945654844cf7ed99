"""Sequence classifiers (--model rnn|lstm|gru|bow): padding invariance, bad input, and
`chainrule train --data sentiment` then `chainrule predict RUN --text` on a small archive written here."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import DataError, ShapeError
from chainrule.nn.text_models import BagOfEmbeddings, RecurrentClassifier
from chainrule.train import trainer as trainer_module
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.compiled import CompiledStep
from tests.train.conftest import serve_archive

SMALL = ["--dropout", "0", "--hidden", "8", "--embedding-dim", "6", "--batch-size", "16", "--lr", "0.02"]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_classifier_ignores_padding(kind):
    model = RecurrentClassifier(kind, 2, vocab_size=12, embedding_dim=5, hidden_size=7, num_layers=2,
                                bidirectional=True, generator=0).eval()
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10], [11, 0, 0, 0, 0]])
    wider = np.concatenate([ids, np.zeros((3, 4), dtype=ids.dtype)], axis=1)
    np.testing.assert_allclose(model(ids).data, model(wider).data, atol=1e-6)
    alone = model(ids[2:, :1]).data
    np.testing.assert_allclose(model(ids).data[2:], alone, atol=1e-6)


def test_bag_of_embeddings_averages_the_words():
    model = BagOfEmbeddings(10, 4, 2, generator=0).eval()
    ids = np.array([[2, 3, 0], [5, 0, 0]])
    table = model.embedding.weight.data
    average = np.stack([(table[2] + table[3]) / 2, table[5]])
    expected = average @ model.classifier.weight.data.T + model.classifier.bias.data
    np.testing.assert_allclose(model(ids).data, expected, rtol=1e-5, atol=1e-6)


def test_bad_input_is_named():
    model = RecurrentClassifier("gru", 3, vocab_size=None, input_size=1, hidden_size=4, generator=0)
    assert model(np.zeros((2, 40), dtype=np.float32)).shape == (2, 3)
    assert model(np.zeros((2, 1, 40), dtype=np.float32)).shape == (2, 3)
    with pytest.raises(ShapeError, match=r"expected float sequences of shape \(B, L\) or \(B, 1, L\)"):
        model(np.zeros((2, 3, 40), dtype=np.float32))
    tokens = RecurrentClassifier("lstm", 2, vocab_size=5, embedding_dim=3, hidden_size=4, generator=0)
    with pytest.raises(DataError, match=r"sequences \[1\] hold no token"):
        tokens(np.array([[1, 2], [0, 0]]))
    with pytest.raises(ShapeError, match="expected token ids"):
        tokens(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 5\)"):
        tokens(np.array([[7, 1]]))


@pytest.mark.parametrize("model", ["bow", "gru"])
def test_train_then_predict_text(sentiment_archive, capsys, model):
    run = sentiment_archive / model
    assert main(["train", "--data", "sentiment", "--model", model, *SMALL, "--epochs", "15", "--out", str(run),
                 "--quiet"]) == 0
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1].split()[-1].rstrip("%"))
    assert accuracy == 100.0  # four phrases per class, trivially separable
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["vocabulary"][:2] == ["<pad>", "<unk>"]
    lines_file = sentiment_archive / "lines.txt"
    lines_file.write_text("i hate this movie\n\nwonderful acting\n")
    assert main(["predict", str(run), "--text", "I love this movie", "--text-file", str(lines_file)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["I love this movie", "i hate this movie",
                                                         "wonderful acting"]
    probabilities = [float(line.split()[2]) for line in lines]
    assert probabilities[0] > 0.5 > probabilities[1] and probabilities[2] > 0.5


def test_predict_text_refuses_bad_input(sentiment_archive, capsys):
    run = sentiment_archive / "run"
    assert main(["train", "--data", "sentiment", "--model", "bow", *SMALL, "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    for texts, message in ((["xyzzy plugh"], "text 1 ('xyzzy plugh') has no word the model knows"),
                           (["love it", "?!"], "text 2 ('?!') has no word to read")):
        assert main(["predict", str(run), *[arg for t in texts for arg in ("--text", t)]]) == 1
        assert message in capsys.readouterr().err
    assert main(["predict", str(run)]) == 1
    assert "give INPUT.npy (feature rows), or --text" in capsys.readouterr().err
    long_text = " ".join(["love"] * 500)  # longer than the training sentences: cut to their length
    assert main(["predict", str(run), "--text", long_text]) == 0
    assert float(capsys.readouterr().out.split()[2]) > 0


def test_text_flags_are_refused_for_feature_runs(tmp_path, capsys):
    run = tmp_path / "digits"
    assert main(["train", "--hidden", "8", "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--text", "I love this movie"]) == 1
    assert "not on text" in capsys.readouterr().err
    assert cr.nn.Embedding  # the package still exports the layers the models use


# Sentences of 2 to 20 words: batches of 4 reach 2 or 3 of the length buckets (8, 16, 24 positions).
VARIED = [("great " if i % 2 else "awful ") * (1 + (5 * i) % 19) + "movie" for i in range(60)]


class SpiedStep(CompiledStep):
    """The trainer's compiled step, keeping itself and the token batches it is given."""
    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []
        SpiedStep.made.append(self)

    def __call__(self, x, y):
        self.batches.append((x.shape, int((x != 0).sum(axis=1).max())))
        return super().__call__(x, y)


def _steps(run):
    return [json.loads(line)["loss"] for line in (run / "steps.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["lstm", "gru", "bow"])
def test_text_models_compile_a_program_per_length_bucket_with_the_eager_losses(tmp_path, monkeypatch, capsys,
                                                                               model):
    serve_archive(tmp_path, monkeypatch, VARIED)
    monkeypatch.setattr(SpiedStep, "made", [])
    monkeypatch.setattr(trainer_module, "CompiledStep", SpiedStep)
    flags = ["train", "--data", "sentiment", "--model", model, *SMALL, "--batch-size", "4", "--epochs", "2"]
    assert main([*flags, "--out", str(tmp_path / "compiled")]) == 0
    out = capsys.readouterr().out
    assert ("compile: token batches are cut to their longest sentence rounded up to a multiple of 8 positions: "
            "one program per length, 8 lengths at most") in out.splitlines()
    assert sum(line.startswith("compile: the training step is compiled (") for line in out.splitlines()) == 1
    [step] = SpiedStep.made
    assert all(shape[1] == min(60, -(-longest // 8) * 8) for shape, longest in step.batches)  # cut to a bucket
    shapes = {shape for shape, _ in step.batches}
    assert len({width for _, width in shapes}) >= 2  # several buckets were trained on
    assert len(step.programs) == step.recordings == len(shapes)  # one program each, recorded once
    assert main([*flags, "--no-compile", "--out", str(tmp_path / "eager")]) == 0
    assert "compile:" not in capsys.readouterr().out
    compiled, eager = _steps(tmp_path / "compiled"), _steps(tmp_path / "eager")
    assert len(compiled) == len(eager) == len(step.batches)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)  # float32 rounding (no dropout: SMALL)
    a, b = (load_checkpoint(tmp_path / name / "last.safetensors")["model"] for name in ("compiled", "eager"))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_compiled_text_run_resumes_to_the_weights_of_a_straight_one(sentiment_archive, capsys):
    flags = ["train", "--data", "sentiment", "--model", "gru", *SMALL, "--dropout", "0.2", "--quiet"]
    assert main([*flags, "--epochs", "3", "--out", str(sentiment_archive / "straight")]) == 0
    assert main([*flags, "--epochs", "1", "--out", str(sentiment_archive / "split")]) == 0
    straight = capsys.readouterr().out
    assert main(["train", "--resume", "--epochs", "3", "--out", str(sentiment_archive / "split"), "--quiet"]) == 0
    assert capsys.readouterr().out == straight.splitlines(keepends=True)[0]
    for name in ("last.safetensors", "best.safetensors"):
        a, b = (load_checkpoint(sentiment_archive / run / name) for run in ("straight", "split"))
        assert a["epoch"] == b["epoch"]
        for key, value in a["model"].items():
            np.testing.assert_array_equal(b["model"][key], value, err_msg=key)


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_a_model_of_feature_values_on_text_names_the_models_that_read_text(sentiment_archive, capsys, model):
    assert main(["train", "--data", "sentiment", "--model", model, "--out", str(sentiment_archive / "r")]) == 1
    err = capsys.readouterr().err
    assert err == (f"chainrule train: error: --model {model} reads feature values, and sentiment is text (token "
                   f"ids): use --model bow, gru, lstm, minilm, rnn, transformer\n")
