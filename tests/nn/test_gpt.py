"""The GPT model: its loss on a fixed batch and its gradients equal a PyTorch re-implementation's for the
same weights; weight tying; the key-value cache gives the uncached logits; bad input."""

import math

import numpy as np
import pytest

from chainrule.errors import ShapeError
from chainrule.nn.gpt import GPT, GPTConfig, KVCache

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
nn = torch.nn

CONFIG = GPTConfig(block_size=8, vocab_size=13, n_layer=2, n_head=2, n_embd=8)


class TorchBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c.n_embd), nn.LayerNorm(c.n_embd)
        self.attn = nn.Module()
        self.attn.c_attn, self.attn.c_proj = nn.Linear(c.n_embd, 3 * c.n_embd), nn.Linear(c.n_embd, c.n_embd)
        self.mlp = nn.Sequential()
        self.mlp.c_fc, self.mlp.gelu = nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU()
        self.mlp.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)
        self.n_head = c.n_head

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (a.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for a in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn.c_proj(y)
        return x + self.mlp(self.ln_2(x))


class TorchGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd), wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([TorchBlock(c) for _ in range(c.n_layer)]), ln_f=nn.LayerNorm(c.n_embd)))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets):
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1]))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def batch(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, CONFIG.vocab_size, (3, 8)), rng.integers(0, CONFIG.vocab_size, (3, 8))


def test_loss_and_gradients_equal_pytorch_for_the_same_weights():
    model = GPT(CONFIG, generator=0).to("float64")
    reference = TorchGPT(CONFIG).double()
    reference.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    idx, targets = batch()
    _, loss = model(idx, targets)
    expected = reference(torch.tensor(idx), torch.tensor(targets))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    loss.backward()
    expected.backward()
    theirs = dict(reference.named_parameters(remove_duplicate=False))
    for name, parameter in model.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, theirs[name].grad.numpy(), atol=1e-12, err_msg=name)


def test_tied_weights_are_one_parameter_whose_gradient_sums_both_uses():
    model = GPT(CONFIG, generator=0)
    assert model.transformer.wte.weight is model.lm_head.weight
    assert {"transformer.wte.weight", "lm_head.weight"} <= set(model.state_dict())
    assert sum(1 for _ in model.parameters()) == len(model.state_dict()) - 1


def test_cached_steps_give_the_uncached_logits():
    model = GPT(CONFIG, generator=1).to("float64")
    idx, _ = batch()
    full, _ = model(idx, np.zeros_like(idx))
    caches = [KVCache() for _ in range(CONFIG.n_layer)]
    model(idx[:, :5], caches=caches)
    for t in range(5, 8):
        logits, _ = model(idx[:, t:t + 1], caches=caches)
        np.testing.assert_allclose(logits.data[:, 0], full.data[:, t], atol=1e-12)


def test_generation_is_reproducible_for_a_seed_and_runs_past_the_context():
    model = GPT(CONFIG, generator=2)
    prompt = np.array([[1, 2, 3]])
    first = model.generate(prompt, 20, top_k=5, generator=7)
    assert first.shape == (1, 23) and (first[:, :3] == prompt).all()
    np.testing.assert_array_equal(first, model.generate(prompt, 20, top_k=5, generator=7))
    assert first.max() < CONFIG.vocab_size


def test_contexts_longer_than_the_model_and_bad_head_counts_are_refused():
    model = GPT(CONFIG, generator=0)
    with pytest.raises(ShapeError, match="block_size.* 8"):
        model(np.zeros((1, 9), int))
    with pytest.raises(ShapeError, match="prompt has 9 tokens"):
        model.generate(np.zeros((1, 9), int), 1)
    with pytest.raises(ValueError, match="not divisible by n_head 3"):
        GPT(GPTConfig(n_embd=8, n_head=3, block_size=4, vocab_size=5, n_layer=1))
