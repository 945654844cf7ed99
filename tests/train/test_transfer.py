"""Fine-tuning a GPT language model as a classifier: sentences as characters, the body's weights from
the language-model run, padding ignored, a subset of labelled sentences."""

import types

import numpy as np
import pytest

from chainrule.data import DataSplit
from chainrule.data.shakespeare import CharVocabulary
from chainrule.train import RunConfig, train_run, transfer
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.models import ModelInfo

TEXT = "a fine film, warm and funny. a dull film, cold and long.\n" * 30
WORDS = ("<pad>", "<unk>", "a", "fine", "film", "dull", "warm", "cold")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm")
    (path / "text.txt").write_text(TEXT)
    config = RunConfig.from_dict({"model": "gpt", "data": str(path / "text.txt"), "n_layer": 1, "n_head": 2,
                                  "n_embd": 8, "block_size": 8, "batch_size": 2, "max_iters": 2, "eval_iters": 1,
                                  "final_eval_iters": 1, "warmup_iters": 1, "eval_interval": 1})
    train_run(config, path / "run", progress=False)
    return path / "run"


def split():
    rng = np.random.default_rng(0)
    x = rng.integers(0, len(WORDS), (10, 5))
    return DataSplit(x_train=x, y_train=np.arange(10) % 2, x_test=x[:4], y_test=np.arange(4) % 2,
                     task="classification", num_classes=2, feature_shape=(5,), name="tiny", source="test",
                     vocabulary=WORDS)


def config(**options):
    defaults = {"init": None, "train_sentences": 0, "chunks": 2, "n_layer": 1, "n_head": 2, "n_embd": 8,
                "block_size": 8}
    return types.SimpleNamespace(options={**defaults, **options}, seed=0, dropout=0.0)


def test_sentences_read_back_as_text_and_encode_to_padded_characters():
    assert transfer.sentences(np.array([[2, 3, 4, 0, 0], [1, 5, 4, 0, 0]]), WORDS) == ["a fine film", "dull film"]
    ids = transfer.encode(["a fine?", "bag", ""], CharVocabulary("a fine"), 4)  # ids: " aefin"
    np.testing.assert_array_equal(ids, [[1, 0, 3, 4], [1, -1, -1, -1], [-1, -1, -1, -1]])


def test_prepare_uses_the_language_models_characters_and_keeps_n_sentences(lm_run):
    prepared = transfer.prepare(config(init=str(lm_run), train_sentences=6), split())
    assert prepared.x_train.shape == (6, 16) and prepared.x_test.shape == (4, 16)
    assert prepared.vocabulary == tuple(CharVocabulary(TEXT).chars)
    assert prepared.x_train.max() < len(prepared.vocabulary) and prepared.x_train.min() >= -1


def test_fine_tuned_body_starts_from_the_language_model_and_ignores_padding(lm_run):
    prepared = transfer.prepare(config(init=str(lm_run)), split())
    info = ModelInfo((16,), 2, "classification", len(prepared.vocabulary))
    model = transfer.build(config(init=str(lm_run)), info)
    saved = load_checkpoint(lm_run / "best.safetensors")["model"]  # the weights the run scored
    for name, value in model.gpt.state_dict().items():
        np.testing.assert_array_equal(value, saved[name], err_msg=name)
    x = prepared.x_train[:3]
    scores = model(x)
    assert scores.shape == (3, 2)
    longer = np.concatenate([x, np.full((3, 8), -1)], axis=1)  # one more chunk, all padding
    np.testing.assert_allclose(model(longer).data, scores.data, atol=1e-6)
    scores.sum().backward()
    assert model.gpt.transformer.h[0].attn.c_attn.weight.grad is not None


def test_scratch_model_takes_its_sizes_and_characters_from_the_flags_and_data():
    prepared = transfer.prepare(config(), split())
    model = transfer.build(config(), ModelInfo((16,), 2, "classification", len(prepared.vocabulary)))
    assert model.gpt.config.n_embd == 8 and len(prepared.vocabulary) == len(set(" ".join(WORDS[2:])))


def test_predict_text_encodes_new_sentences_with_the_runs_characters():
    from chainrule.errors import DataError
    record = {"data": {"vocabulary": list(CharVocabulary("a fine").chars), "feature_shape": [4]}}
    ids = transfer.encode_texts(config(), record, ["a fine?", "bag"])
    np.testing.assert_array_equal(ids, [[1, 0, 3, 4], [1, -1, -1, -1]])
    with pytest.raises(DataError, match=r"text 2 \('xyz'\) has no character the model knows"):
        transfer.encode_texts(config(), record, ["fine", "xyz"])
