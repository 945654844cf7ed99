"""Runs of a pre-trained sentence encoder (--model minilm) on a tiny BERT directory written here: the
sentences tokenised by the encoder's tokenizer, balanced subsets, the head alone or everything trained,
the defaults that follow --freeze, predict --text, evaluate, and the errors."""

import json

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.core.graph import no_grad
from chainrule.data import balanced_indices
from chainrule.errors import DataError
from chainrule.nn.bert import BertModel
from chainrule.pretrained import SentenceClassifier, sentence_encoder
from chainrule.train import RunConfig, train_run
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.runs import evaluate_run, load_run
from chainrule.train.settings import ConfigError
from chainrule.train.text import predict_texts
from tests.pretrained.tiny import tiny_directory

pytest.importorskip("tokenizers")

SMALL = {"max_tokens": 12, "batch_size": 8, "epochs": 3}


@pytest.fixture
def tiny(tmp_path):
    tiny_directory(tmp_path / "tiny")
    return tmp_path / "tiny"


def _config(tiny, **settings):
    return RunConfig.from_dict({"model": "minilm", "data": "sentiment", "encoder": str(tiny), **SMALL, **settings})


def test_balanced_indices_are_balanced_seeded_and_distinct():
    labels = [0] * 30 + [1] * 70
    rows = balanced_indices(labels, 11, seed=3)
    assert len(set(rows)) == 11
    assert sum(labels[i] for i in rows) == 6  # the odd one from class 1
    assert list(rows) == list(balanced_indices(labels, 11, seed=3))
    assert list(rows) != list(balanced_indices(labels, 11, seed=4))
    assert sorted(balanced_indices(labels, None, seed=0)) == list(range(100))
    with pytest.raises(DataError, match="class 0 has 30 examples, fewer than its share 40 of 80"):
        balanced_indices(labels, 80)


def test_freeze_changes_the_defaults_and_flags_still_win(tiny):
    tuned = RunConfig.from_dict({"model": "minilm"}).resolved()
    frozen = RunConfig.from_dict({"model": "minilm", "freeze": "true"}).resolved()
    assert (tuned.data, tuned.optimizer, tuned.lr, tuned.weight_decay) == ("sentiment", "adamw", 5e-5, 0.01)
    assert frozen.options["freeze"] is True and (frozen.lr, frozen.epochs) == (1e-2, 50)
    assert _config(tiny, freeze="true", lr=0.5).resolved().lr == 0.5
    assert _config(tiny, freeze="true").resolved().epochs == 3  # SMALL's


def test_a_frozen_run_trains_the_head_alone_and_predicts_texts(sentiment_archive, tiny):
    run = sentiment_archive / "frozen"
    record = train_run(_config(tiny, freeze="true", train_sentences=20, lr=0.1, epochs=20, val_fraction=0),
                       run, progress=False)
    assert "frozen, the head trained (18 parameters trained)" in record["model"]["kind"]
    assert record["data"]["sizes"]["train"] == 20 and record["data"]["vocabulary"] is None
    state = load_checkpoint(run / "best.safetensors")["model"]
    pretrained = BertModel.from_pretrained(tiny).state_dict()
    for name, value in pretrained.items():
        np.testing.assert_array_equal(state[f"encoder.{name}"], value)
    _, _, _, model = load_run(run)
    assert not np.allclose(state["head.weight"], SentenceClassifier(BertModel.from_pretrained(tiny), 2,
                                                                    generator=0).head.weight.data)
    # the probabilities of new sentences are the softmax of the model's logits for their word pieces
    texts = ["I love this movie", "i hate THIS movie!"]
    probabilities = predict_texts(run, texts)
    ids, _ = sentence_encoder(tiny).tokenizer(texts)
    with no_grad():
        logits = model(ids).data
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    assert evaluate_run(run)["accuracy"] == pytest.approx(record["results"]["test"]["accuracy"])


def test_fine_tuning_changes_the_encoder_and_learns_the_phrases(sentiment_archive, tiny, capsys):
    run = sentiment_archive / "tuned"
    assert main(["train", "--model", "minilm", "--encoder", str(tiny), "--max-tokens", "12", "--lr", "0.01",
                 "--epochs", "12", "--batch-size", "8", "--dropout", "0", "--out", str(run), "--quiet"]) == 0
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1].split()[-1].rstrip("%"))
    assert accuracy == 100.0  # four phrases per class
    state = load_checkpoint(run / "best.safetensors")["model"]
    pretrained = BertModel.from_pretrained(tiny).state_dict()
    assert not np.allclose(state["encoder.encoder.layer.0.attention.self.query.weight"],
                           pretrained["encoder.layer.0.attention.self.query.weight"])
    assert main(["predict", str(run), "--text", "I love this movie", "--text", "I hate this movie"]) == 0
    love, hate = (float(line.split()[2]) for line in capsys.readouterr().out.strip().splitlines())
    assert love > 0.5 > hate
    assert main(["predict", str(run), "--text", "   "]) == 1
    assert "text 1 (' ') has no word to read" in capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["encoder"] == str(tiny) and config["options"]["freeze"] is False


def test_features_ignore_extra_padding_chunks_and_the_frozen_cache(tiny):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 12, 150)
    ids = np.zeros((150, 14), np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, 30, length)
    model = SentenceClassifier(BertModel.from_pretrained(tiny), 2, normalize=True, generator=0).eval()
    few = model.features(ids[:5]).data  # one pass with a graph, cut to the longest sentence
    with no_grad():
        chunked = model.features(ids).data  # 150 sentences: chunks of similar length
    np.testing.assert_allclose(chunked[:5], few, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(chunked, axis=1), 1, rtol=1e-5)
    frozen = SentenceClassifier(BertModel.from_pretrained(tiny), 2, normalize=True, freeze=True, generator=0)
    frozen.train()  # the frozen encoder runs in evaluation mode all the same
    np.testing.assert_allclose(frozen.features(ids).data, chunked, rtol=1e-5, atol=1e-6)
    assert len(frozen._frozen) == len({row[:n].tobytes() for row, n in zip(ids, lengths)})
    np.testing.assert_allclose(frozen.features(ids[::-1]).data, chunked[::-1], rtol=1e-5, atol=1e-6)
    state = frozen.state_dict()
    frozen.load_state_dict(state)
    assert frozen._frozen == {}


def test_bad_settings_are_named(sentiment_archive, tiny):
    with pytest.raises(ConfigError, match="--encoder: unknown pre-trained model 'nope'; known models: "
                                          "all-MiniLM-L6-v2"):
        train_run(_config(tiny, encoder="nope"), sentiment_archive / "a", progress=False)
    with pytest.raises(ConfigError, match="--max-tokens 64 is more than the encoder's 16 positions"):
        train_run(_config(tiny, max_tokens=64), sentiment_archive / "b", progress=False)
    with pytest.raises(ConfigError, match="--train-sentences 100: the training split of sentiment has 48"):
        train_run(_config(tiny, train_sentences=100), sentiment_archive / "c", progress=False)
    with pytest.raises(ConfigError, match="--model minilm reads sentences: use a text data set"):
        train_run(_config(tiny, data="digits"), sentiment_archive / "d", progress=False)
    with pytest.raises(ConfigError, match="--model minilm does not read --hidden"):
        _config(tiny, hidden="8").resolved()


def test_the_command_line_freezes_with_a_bare_flag_and_scores_and_draws_the_run(sentiment_archive, tiny,
                                                                                 capsys):
    run = sentiment_archive / "cli"
    assert main(["train", "--model", "minilm", "--encoder", str(tiny), "--max-tokens", "12", "--freeze",
                 "--train-sentences", "10", "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    trained = capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["freeze"] is True and config["options"]["train_sentences"] == 10
    assert config["lr"] == 1e-2  # --freeze's default
    assert main(["evaluate", str(run)]) == 0
    accuracy = trained.strip().splitlines()[-1].split()[-1]
    assert accuracy in capsys.readouterr().out
    assert main(["graph", str(run), "--examples", "2", "--out", str(sentiment_archive / "g.dot.svg")]) in (0, 1)
    assert (sentiment_archive / "g.dot.dot").read_text().startswith("digraph")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--freeze [BOOL]" in help_text and "--model minilm --freeze: 0.01" in help_text


def test_the_head_learns_at_its_own_rate_and_biases_are_not_decayed(tiny):
    from chainrule.train.build import build_optimizer
    config = _config(tiny, head_lr="0.003").resolved()
    model = build_model_for(config)
    groups = build_optimizer(config, model).param_groups
    head = {id(p) for p in model.head.parameters()}
    for group in groups:
        inside = {id(p) in head for p in group["params"]}
        assert len(inside) == 1 and group["lr"] == (3e-3 if inside == {True} else 5e-5)
        assert group["weight_decay"] == (0.01 if group["params"][0].ndim >= 2 else 0.0)
    pooler = {id(p) for p in model.encoder.pooler.parameters()}
    assert sum(len(group["params"]) for group in groups) == len(list(model.parameters())) - len(pooler)
    assert not pooler & {id(p) for group in groups for p in group["params"]}
    default = _config(tiny).resolved()
    model = build_model_for(default)
    head = {id(p) for p in model.head.parameters()}
    assert {group["lr"] for group in build_optimizer(default, model).param_groups
            if {id(p) for p in group["params"]} <= head} == {2e-3}
    frozen = _config(tiny, freeze=True).resolved()
    groups = build_optimizer(frozen, build_model_for(frozen)).param_groups
    assert [len(g["params"]) for g in groups] == [1, 1] and {g["lr"] for g in groups} == {1e-2}  # the head at --lr


def build_model_for(config):
    from chainrule.train.models import ModelInfo
    from chainrule.train.runs import build_model
    return build_model(config, ModelInfo((12,), 2, "classification"))


def test_the_compiled_step_falls_back_to_eager_for_the_encoder(sentiment_archive, tiny, capsys):
    """The attention mask and the cut to the longest sentence are decided on the ids' values in Python,
    so the default compiled step cannot record the run: one line says why, then it trains eagerly, to the
    same weights as a run with --no-compile (the encoder's dropouts draw from the run's seed: a run
    repeats exactly; they drew from the unseeded shared generator before)."""
    common = ["train", "--model", "minilm", "--encoder", str(tiny), "--max-tokens", "12", "--epochs", "1",
              "--batch-size", "8", "--lr", "0.01"]
    assert main([*common, "--out", str(sentiment_archive / "default")]) == 0
    said = capsys.readouterr().out
    assert "compile: off, training eagerly: SentenceClassifier: the attention mask" in said
    assert main([*common, "--no-compile", "--out", str(sentiment_archive / "eager")]) == 0
    assert "compile:" not in capsys.readouterr().out
    compiled = load_checkpoint(sentiment_archive / "default" / "last.safetensors")["model"]
    eager = load_checkpoint(sentiment_archive / "eager" / "last.safetensors")["model"]
    assert compiled.keys() == eager.keys()
    differ = [name for name in compiled if not np.array_equal(compiled[name], eager[name])]
    assert differ == []
