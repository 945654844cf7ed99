"""The BERT encoder: Hugging Face directories written and read, values and gradients against
transformers' BertModel (PyTorch) for the same weights, and the errors of bad directories."""

import json

import numpy as np
import pytest

from chainrule.errors import CheckpointError, ShapeError
from chainrule.nn.bert import BertConfig, BertModel, l2_normalize, mean_pool
from tests.pretrained.tiny import tiny_config, tiny_directory


def _batch(vocab, rng, lengths=(7, 3, 5, 1)):
    width = max(lengths)
    ids = np.zeros((len(lengths), width), np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, vocab, length)
        mask[row, :length] = 1
    return ids, mask


def test_directory_round_trip_keeps_config_and_weights(tmp_path):
    model = tiny_directory(tmp_path, tokenizer=False).eval()
    again = BertModel.from_pretrained(tmp_path)
    assert not again.training
    assert again.config == model.config
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name], value)
    ids, mask = _batch(model.config.vocab_size, np.random.default_rng(0))
    np.testing.assert_array_equal(model(ids, mask).last_hidden_state.data,
                                  again(ids, mask).last_hidden_state.data)


def test_padding_does_not_change_a_sentence(tmp_path):
    model = tiny_directory(tmp_path, tokenizer=False).eval()
    ids, mask = _batch(model.config.vocab_size, np.random.default_rng(1))
    batched = model(ids, attention_mask=mask).last_hidden_state.data
    for row in range(len(ids)):
        length = mask[row].sum()
        alone = model(ids[row:row + 1, :length]).last_hidden_state.data[0]
        np.testing.assert_allclose(batched[row, :length], alone, rtol=1e-5, atol=1e-6)


def test_bert_prefix_and_gamma_beta_names_are_read(tmp_path):
    from safetensors.numpy import load_file, save_file
    model = tiny_directory(tmp_path, tokenizer=False)
    state = load_file(str(tmp_path / "model.safetensors"))
    renamed = {"bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                                   "LayerNorm.beta"): value
               for name, value in state.items()}
    renamed["classifier.weight"] = np.zeros((2, 8), np.float32)  # another head's weights: ignored
    save_file(renamed, str(tmp_path / "model.safetensors"))
    again = BertModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(again.encoder.layer[1].output.LayerNorm.weight.data,
                                  model.encoder.layer[1].output.LayerNorm.weight.data)


def test_bad_directories_name_what_is_missing(tmp_path):
    with pytest.raises(CheckpointError, match="has no config.json and no model.safetensors"):
        BertModel.from_pretrained(tmp_path)
    tiny_directory(tmp_path, tokenizer=False)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2",
                                                      "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(CheckpointError, match=r"model_type is 'gpt2'.*GPT2LMHeadModel"):
        BertModel.from_pretrained(tmp_path)


def test_bad_inputs_are_named():
    model = BertModel(tiny_config(), generator=0)
    with pytest.raises(ShapeError, match="max_position_embeddings=16"):
        model(np.ones((1, 17), np.int64))
    with pytest.raises(ShapeError, match="attention_mask must have input_ids' shape"):
        model(np.ones((2, 3), np.int64), attention_mask=np.ones((2, 4)))
    with pytest.raises(ShapeError, match="input_ids must be integer"):
        model(np.ones((2, 3)))
    with pytest.raises(ValueError, match="not divisible by num_attention_heads"):
        BertConfig(hidden_size=10, num_attention_heads=4)


def _torch_model(directory):
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(str(directory), attn_implementation="eager").eval()


def test_values_and_gradients_equal_transformers(tmp_path):
    torch = pytest.importorskip("torch")
    model = tiny_directory(tmp_path, tokenizer=False).eval()
    reference = _torch_model(tmp_path)
    rng = np.random.default_rng(2)
    ids, mask = _batch(model.config.vocab_size, rng)
    types = (rng.random(ids.shape) < 0.5).astype(np.int64)
    weights = rng.normal(size=(len(ids), model.config.hidden_size)).astype(np.float32)

    out = model(ids, attention_mask=mask, token_type_ids=types)
    pooled = l2_normalize(mean_pool(out.last_hidden_state, mask))
    ((pooled * weights).sum() + (out.pooler_output * weights).sum()).backward()

    expected = reference(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                         token_type_ids=torch.tensor(types))
    hidden = expected.last_hidden_state
    m = torch.tensor(mask, dtype=hidden.dtype)[:, :, None]
    torch_pooled = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
    ((torch_pooled * torch.tensor(weights)).sum() + (expected.pooler_output * torch.tensor(weights)).sum()
     ).backward()

    np.testing.assert_allclose(pooled.data, torch_pooled.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.pooler_output.data, expected.pooler_output.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    torch_grads = dict(reference.named_parameters())
    own = dict(model.named_parameters())
    assert set(own) == set(torch_grads)
    for name, parameter in own.items():
        np.testing.assert_allclose(parameter.grad, torch_grads[name].grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
