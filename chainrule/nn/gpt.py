"""A GPT language model, in the order of nanoGPT's ``model.py``: LayerNorm, attention, MLP, Block, the
configuration, GPT.

Parameter names and shapes are nanoGPT's (``transformer.h.0.attn.c_attn.weight``...), so its
``state_dict`` loads. Generation keeps a key-value cache: each new token costs one step through the
model, not a pass over the whole context.

Example:
    >>> import numpy as np
    >>> model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8), generator=0)
    >>> logits, loss = model(np.zeros((2, 8), int), np.ones((2, 8), int))
    >>> logits.shape, loss.shape
    ((2, 8, 11), ())
"""

import dataclasses
import math

import numpy as np

from .. import backend, devices, ops
from ..core.graph import no_grad
from ..core.tensor import Tensor, unwrap
from ..errors import ShapeError
from . import functional as F
from . import init
from .activation import GELU
from .layers import Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList
from .rng import as_generator


class KVCache:
    """The keys and values one attention layer has seen, ``(B, heads, T, head_dim)`` each."""

    def __init__(self):
        self.key = self.value = None

    @property
    def length(self):
        return 0 if self.key is None else self.key.shape[-2]

    def extend(self, key, value):
        """Append this step's keys and values; return all of them."""
        if self.key is not None:
            key = ops.concatenate([self.key, key], axis=-2)
            value = ops.concatenate([self.value, value], axis=-2)
        self.key, self.value = key, value
        return key, value


class CausalSelfAttention(Module):
    """Multi-head self-attention where position ``t`` sees positions ``0..t``."""

    def __init__(self, config, generator=None):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"CausalSelfAttention: n_embd {config.n_embd} is not divisible by n_head "
                             f"{config.n_head}")
        # key, query and value projections for all heads, in one product
        self.c_attn = Linear(config.n_embd, 3 * config.n_embd, bias=config.bias, generator=generator)
        self.c_proj = Linear(config.n_embd, config.n_embd, bias=config.bias, generator=generator)
        self.resid_dropout = Dropout(config.dropout, generator=generator)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.generator = generator

    def forward(self, x, cache=None):
        B, T, C = x.shape  # batch, sequence length, embedding width (n_embd)
        q, k, v = (x_part.reshape(B, T, self.n_head, C // self.n_head).swapaxes(1, 2)  # (B, nh, T, hs)
                   for x_part in _split_last(self.c_attn(x), 3))
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, generator=self.generator,
                                               dropout_p=self.dropout if self.training else 0.0)
        else:
            k, v = cache.extend(k, v)  # (B, nh, past + T, hs)
            mask = devices.move(_causal_after(T, k.shape[-2]), devices.device_of(q.data))  # where q is
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.swapaxes(1, 2).reshape(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(Module):
    """Position-wise feed-forward: widen 4x, GELU, project back."""

    def __init__(self, config, generator=None):
        super().__init__()
        self.c_fc = Linear(config.n_embd, 4 * config.n_embd, bias=config.bias, generator=generator)
        self.gelu = GELU()
        self.c_proj = Linear(4 * config.n_embd, config.n_embd, bias=config.bias, generator=generator)
        self.dropout = Dropout(config.dropout, generator=generator)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(Module):
    """A pre-norm transformer block: attention then MLP, each added back to the residual stream."""

    def __init__(self, config, generator=None):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config, generator)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config, generator)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        x = x + self.mlp(self.ln_2(x))
        return x


@dataclasses.dataclass
class GPTConfig:
    """The model's sizes; the defaults are nanoGPT's CPU baseline for character-level Shakespeare."""

    block_size: int = 64
    vocab_size: int = 65
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms, as GPT-2


class _Group(Module):
    """Named submodules without a computation of their own (PyTorch's ``ModuleDict``)."""

    def __init__(self, **modules):
        super().__init__()
        for name, module in modules.items():
            setattr(self, name, module)


class GPT(Module):
    """A decoder-only transformer language model.

    Args:
        config: a :class:`GPTConfig`.
        generator: for the initial weights and dropout masks.
    """

    def __init__(self, config, generator=None):
        super().__init__()
        self.config = config
        generator = as_generator(generator)
        self.transformer = _Group(
            wte=Embedding(config.vocab_size, config.n_embd),
            wpe=Embedding(config.block_size, config.n_embd),  # learned positional embeddings
            drop=Dropout(config.dropout, generator=generator),
            h=ModuleList([Block(config, generator) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, bias=config.bias),
        )
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: one matrix embeds tokens and scores them; its gradient sums both uses.
        self.transformer.wte.weight = self.lm_head.weight
        self._init_weights(generator)

    def _init_weights(self, generator):
        for name, parameter in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(parameter)
            elif parameter.ndim == 2:
                # GPT-2: N(0, 0.02), and the projections into the residual stream scaled by 1/√(2 layers)
                std = 0.02 / math.sqrt(2 * self.config.n_layer) if name.endswith("c_proj.weight") else 0.02
                init.normal_(parameter, 0.0, std, generator)

    def num_parameters(self, non_embedding=True):
        """The number of parameters, without the position embeddings by default (as nanoGPT counts)."""
        count = sum(p.size for p in self.parameters())
        return count - self.transformer.wpe.weight.size if non_embedding else count

    def features(self, idx, caches=None):
        """The final hidden states ``(B, T, n_embd)`` of token indices ``idx`` ``(B, T)``, after ``ln_f``."""
        idx = backend.asarray(unwrap(idx))
        b, t = idx.shape
        past = 0 if caches is None else caches[0].length
        if past + t > self.config.block_size:
            raise ShapeError(f"GPT: cannot attend over {past + t} positions; the model's context "
                             f"(block_size) is {self.config.block_size}")
        pos = np.arange(past, past + t)
        tok_emb = self.transformer.wte(idx)  # (b, t, n_embd)
        pos_emb = self.transformer.wpe(pos)  # (t, n_embd)
        x = self.transformer.drop(tok_emb + pos_emb)
        for i, block in enumerate(self.transformer.h):
            x = block(x, None if caches is None else caches[i])
        return self.transformer.ln_f(x)

    def forward(self, idx, targets=None, caches=None):
        """Logits for every position, and the mean cross-entropy against ``targets`` when given.

        Args:
            idx: token indices ``(B, T)``.
            targets: the next tokens ``(B, T)`` (``-1`` is ignored), or ``None``.
            caches: one :class:`KVCache` per block during generation; ``idx`` then holds only the new
                tokens.

        Returns:
            ``(logits, loss)``: logits ``(B, T, vocab_size)`` (only the last position's, ``(B, 1,
            vocab_size)``, without targets) and the loss (``None`` without targets).
        """
        x = self.features(idx, caches)
        if targets is None:
            return self.lm_head(x[:, -1:, :]), None  # (b, 1, vocab_size): only the next token's scores
        logits = self.lm_head(x)  # (b, t, vocab_size)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), backend.asarray(unwrap(targets)).reshape(-1),
                               ignore_index=-1)
        return logits, loss

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Sample ``max_new_tokens`` tokens after ``idx`` ``(B, T)``, one cached step per token.

        When the context fills up, the cache is rebuilt from the last ``block_size // 2`` tokens, so
        each token still sees at least half a context (and a rebuild comes every ``block_size // 2``
        tokens).

        Args:
            idx: the prompt's token indices, at most ``block_size`` long.
            max_new_tokens: how many tokens to add.
            temperature: divides the logits; lower is more conservative.
            top_k: sample only among the ``top_k`` most likely tokens (``None``: all of them).
            generator: draws the samples; an int seed makes them reproducible.

        Returns:
            ``(B, T + max_new_tokens)`` token indices.
        """
        idx = backend.asarray(idx)
        return np.concatenate([idx, *self.stream(idx, max_new_tokens, temperature, top_k, generator)], axis=1)

    def stream(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """The tokens :meth:`generate` adds, one ``(B, 1)`` array at a time as they are sampled (a
        generator; the arguments are checked at once)."""
        rng = as_generator(generator)
        idx = backend.asarray(idx)
        if idx.shape[1] > self.config.block_size:
            raise ShapeError(f"GPT.generate: the prompt has {idx.shape[1]} tokens; the model's context "
                             f"(block_size) is {self.config.block_size}")
        if not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"GPT.generate: temperature must be a positive number, not {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                                  or top_k < 1):
            raise ValueError(f"GPT.generate: top_k must be a positive int or None, not {top_k!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) \
                or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be a non-negative int, not {max_new_tokens!r}")
        return self._steps(idx, max_new_tokens, temperature, top_k, rng)

    def _steps(self, idx, max_new_tokens, temperature, top_k, rng):
        with no_grad():
            caches = [KVCache() for _ in self.transformer.h]
            step = idx
            for _ in range(max_new_tokens):
                if caches[0].length + step.shape[1] > self.config.block_size:
                    caches = [KVCache() for _ in self.transformer.h]
                    step = idx[:, -(self.config.block_size // 2):]
                logits, _ = self(step, caches=caches)
                # sampled on the host (the same tokens as on the CPU for a seed)
                step = _sample(devices.to_host(logits.data[:, -1, :]) / temperature, top_k, rng)
                idx = np.concatenate([idx, step], axis=1)[:, -self.config.block_size:]  # what a rebuild reads
                yield step


class GPTClassifier(Module):
    """A GPT body with a classification head, for fine-tuning a pre-trained language model.

    A text longer than the context is cut into chunks of ``block_size`` tokens that the body reads
    independently; the head reads the mean of the final hidden states over the real (non-padding)
    tokens of all chunks.

    Args:
        config: the body's :class:`GPTConfig` (a pre-trained model's, to load its weights into
            ``gpt``).
        num_classes: the head's outputs.
        generator: for the initial weights and dropout masks.
    """

    def __init__(self, config, num_classes, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.gpt = GPT(config, generator)
        self.head = Linear(config.n_embd, num_classes, generator=generator)

    def forward(self, idx):
        """Class scores ``(N, num_classes)`` of token indices ``(N, chunks · block_size)``, ``-1`` for
        padding."""
        # The mask is made with chainrule's operations, so a compiled step computes it from each batch.
        idx = idx if isinstance(idx, Tensor) else Tensor(idx)
        n, length = idx.shape
        block = self._block(length)
        real = idx >= 0
        hidden = self.gpt.features(ops.where(real, idx, 0).reshape(-1, block))  # (n · chunks, block, C)
        hidden = hidden.reshape(n, length, -1)
        counts = ops.maximum(ops.sum(real, axis=1, keepdims=True), 1)
        weights = ops.astype(real / counts, dtype=hidden.dtype)[..., None]
        return self.head((hidden * weights).sum(axis=1))  # the mean over real tokens, then the head

    def _block(self, length):
        block = self.gpt.config.block_size
        if length % block:
            raise ShapeError(f"GPTClassifier: inputs of {length} tokens are not a whole number of chunks of "
                             f"block_size {block}")
        return block


def _sample(logits, top_k, rng):
    """One token per row from ``softmax(logits)``, restricted to the ``top_k`` largest when given."""
    if top_k is not None:
        kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1]), None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    # inverse-CDF sampling: one uniform number per row
    cumulative = np.cumsum(probs, axis=-1)
    draws = rng.random((logits.shape[0], 1)) * cumulative[:, -1:]
    return (cumulative < draws).sum(axis=-1, keepdims=True).clip(max=logits.shape[-1] - 1)


def _split_last(x, parts):
    width = x.shape[-1] // parts
    return [x[..., i * width:(i + 1) * width] for i in range(parts)]


def _causal_after(new, total):
    """``(new, total)``: the new queries see every earlier key and the new ones up to themselves."""
    return np.arange(total)[None, :] <= np.arange(total - new, total)[:, None]
