"""Sequence classifiers (--model rnn|lstm|gru|bow): padding invariance, bad input, and
`chainrule train --data sentiment` then `chainrule predict RUN --text` on a small archive written here."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import DataError, ShapeError
from chainrule.nn.text_models import BagOfEmbeddings, RecurrentClassifier

SMALL = ["--hidden", "8", "--embedding-dim", "6", "--batch-size", "16", "--lr", "0.02"]


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


def test_a_model_that_cannot_compile_fails_in_one_line_and_leaves_no_run(sentiment_archive, capsys):
    run = sentiment_archive / "nested" / "run"
    assert main(["train", "--data", "sentiment", "--model", "lstm", *SMALL, "--epochs", "1", "--compile",
                 "--out", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chainrule train: error: --compile: lstm (") and err.count("\n") == 1
    assert "cannot be compiled: RecurrentClassifier: cutting the batch to its longest sentence depends on the " \
           "values" in err and err.endswith("; train without --compile\n")
    assert "bin/" not in err and " at " not in err.split("cannot be compiled")[1]
    assert not (sentiment_archive / "nested").exists()  # the rerun needs no --force
    assert main(["train", "--data", "sentiment", "--model", "lstm", *SMALL, "--epochs", "1", "--out", str(run),
                 "--quiet"]) == 0


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_a_model_of_feature_values_on_text_names_the_models_that_read_text(sentiment_archive, capsys, model):
    assert main(["train", "--data", "sentiment", "--model", model, "--out", str(sentiment_archive / "r")]) == 1
    err = capsys.readouterr().err
    assert err == (f"chainrule train: error: --model {model} reads feature values, and sentiment is text (token "
                   f"ids): use --model bow, gru, lstm, minilm, rnn, transformer\n")
