"""A BERT encoder with Hugging Face's ``BertModel`` parameter names, configuration and checkpoints.

Embeddings (token + position + token type, LayerNorm, dropout), then ``num_hidden_layers`` post-norm
layers: ``x = LayerNorm(x + Attention(x))``, ``x = LayerNorm(x + W₂ GELU(W₁ x))``, and a pooler
(``tanh(W h_[CLS])``). The names (``encoder.layer.0.attention.self.query.weight``...) and
``config.json`` are those of ``transformers.BertModel``, so :meth:`BertModel.from_pretrained` reads a
Hugging Face directory (``config.json`` + ``model.safetensors``) and :meth:`BertModel.save_pretrained`
writes one that ``transformers`` reads back.

Padding: ``attention_mask`` (``(N, L)``, 1 for a token, 0 for padding) keeps every query from
attending to padded keys; the outputs at padded positions are computed but meaningless.

Example:
    >>> import numpy as np
    >>> model = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
    ...                              num_attention_heads=2, intermediate_size=16), generator=0)
    >>> out = model(np.array([[2, 5, 3, 0]]), attention_mask=np.array([[1, 1, 1, 0]]))
    >>> out.last_hidden_state.shape, out.pooler_output.shape
    ((1, 4, 8), (1, 8))
"""

import dataclasses
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import backend, ops
from ..core.tensor import Tensor, unwrap
from ..errors import CheckpointError, ShapeError
from . import functional as F
from . import init
from .activation import GELU, ReLU, Tanh
from .layers import Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList
from .rng import as_generator

_ACTIVATIONS = {"gelu": lambda: GELU(), "gelu_new": lambda: GELU(approximate="tanh"),
                "gelu_pytorch_tanh": lambda: GELU(approximate="tanh"), "relu": lambda: ReLU()}


@dataclasses.dataclass
class BertConfig:
    """The sizes of a BERT encoder, under the names of Hugging Face's ``config.json``; the defaults
    are BERT-base's."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    initializer_range: float = 0.02

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size {self.hidden_size} is not divisible by "
                             f"num_attention_heads {self.num_attention_heads}")
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"BertConfig: hidden_act must be one of {sorted(_ACTIVATIONS)}, not "
                             f"{self.hidden_act!r}")

    @classmethod
    def from_dict(cls, config, where="config.json"):
        """Build from a ``config.json`` mapping; it must describe a BERT model (``model_type: bert``).

        Keys this encoder has no use for (``architectures``, ``use_cache``...) are ignored; a
        ``position_embedding_type`` other than ``absolute`` is refused.
        """
        model_type = config.get("model_type")
        if model_type != "bert":
            raise CheckpointError(f"{where}: model_type is {model_type!r}, but chainrule's BertModel reads "
                                  f"model_type 'bert' (architectures {config.get('architectures')})")
        position = config.get("position_embedding_type", "absolute")
        if position != "absolute":
            raise CheckpointError(f"{where}: position_embedding_type {position!r} is not supported; "
                                  f"BertModel has absolute position embeddings")
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in config.items() if key in names})

    def to_dict(self):
        """The ``config.json`` mapping, readable by ``transformers.BertConfig``."""
        return {"architectures": ["BertModel"], "model_type": "bert", "position_embedding_type": "absolute",
                **dataclasses.asdict(self)}


class BertModelOutput(NamedTuple):
    """``last_hidden_state`` ``(N, L, hidden)``; ``pooler_output`` ``(N, hidden)`` (``None`` without a
    pooler)."""

    last_hidden_state: Tensor
    pooler_output: Tensor


class BertEmbeddings(Module):
    """Word, position and token-type embeddings summed, then LayerNorm and dropout."""

    def __init__(self, config, generator):
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob, generator=generator)

    def forward(self, input_ids, token_type_ids):
        length = input_ids.shape[1]
        x = (self.word_embeddings(input_ids) + self.position_embeddings(np.arange(length))
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Per-head scaled dot-product attention of separate query, key and value projections."""

    def __init__(self, config, generator):
        super().__init__()
        size = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.head_dim = size // config.num_attention_heads
        self.query = Linear(size, size, generator=generator)
        self.key = Linear(size, size, generator=generator)
        self.value = Linear(size, size, generator=generator)
        self.dropout_p = config.attention_probs_dropout_prob
        self.generator = generator

    def forward(self, x, keep):
        n, length, size = x.shape
        q, k, v = (layer(x).reshape(n, length, self.num_attention_heads, self.head_dim).swapaxes(1, 2)
                   for layer in (self.query, self.key, self.value))  # (N, heads, L, head_dim)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, generator=self.generator,
                                           dropout_p=self.dropout_p if self.training else 0.0)
        return y.swapaxes(1, 2).reshape(n, length, size)


class BertSelfOutput(Module):
    """The attention's output projection, dropout, and the residual's post-norm."""

    def __init__(self, config, generator):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, generator=generator)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob, generator=generator)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(Module):
    def __init__(self, config, generator):
        super().__init__()
        self.self = BertSelfAttention(config, generator)
        self.output = BertSelfOutput(config, generator)

    def forward(self, x, keep):
        return self.output(self.self(x, keep), x)


class BertIntermediate(Module):
    """The feed-forward network's widening layer and its activation."""

    def __init__(self, config, generator):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size, generator=generator)
        self.intermediate_act_fn = _ACTIVATIONS[config.hidden_act]()

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(BertSelfOutput):
    """The feed-forward network's narrowing layer, dropout, and the residual's post-norm."""

    def __init__(self, config, generator):
        super().__init__(config, generator)
        self.dense = Linear(config.intermediate_size, config.hidden_size, generator=generator)


class BertLayer(Module):
    def __init__(self, config, generator):
        super().__init__()
        self.attention = BertAttention(config, generator)
        self.intermediate = BertIntermediate(config, generator)
        self.output = BertOutput(config, generator)

    def forward(self, x, keep):
        x = self.attention(x, keep)
        return self.output(self.intermediate(x), x)


class BertEncoder(Module):
    def __init__(self, config, generator):
        super().__init__()
        self.layer = ModuleList([BertLayer(config, generator) for _ in range(config.num_hidden_layers)])

    def forward(self, x, keep):
        for layer in self.layer:
            x = layer(x, keep)
        return x


class BertPooler(Module):
    """``tanh(dense(h))`` of the first token's ([CLS]) final state."""

    def __init__(self, config, generator):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, generator=generator)
        self.activation = Tanh()

    def forward(self, hidden):
        return self.activation(self.dense(hidden[:, 0]))


class BertModel(Module):
    """The BERT encoder.

    Args:
        config: a :class:`BertConfig`.
        add_pooling_layer: include the [CLS] pooler (``pooler.dense``), as ``transformers`` does.
        generator: for the initial weights (``N(0, initializer_range)``, biases 0, LayerNorms 1 and 0,
            as Hugging Face initialises) and the dropout masks.
    """

    def __init__(self, config, add_pooling_layer=True, generator=None):
        super().__init__()
        self.config = config
        generator = as_generator(generator)
        self.embeddings = BertEmbeddings(config, generator)
        self.encoder = BertEncoder(config, generator)
        self.pooler = BertPooler(config, generator) if add_pooling_layer else None
        for name, parameter in self.named_parameters():
            if name.endswith("LayerNorm.weight"):
                init.ones_(parameter)
            elif name.endswith("bias"):
                init.zeros_(parameter)
            else:
                init.normal_(parameter, 0.0, config.initializer_range, generator=generator)
        padding = self.embeddings.word_embeddings.weight
        padding.data[config.pad_token_id] = 0.0

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        """Encode a batch of token ids.

        Args:
            input_ids: integer ``(N, L)``, ``L`` at most ``max_position_embeddings``.
            attention_mask: ``(N, L)``, 1 (or ``True``) for tokens, 0 for padding; all ones if ``None``.
            token_type_ids: ``(N, L)`` segment ids; zeros if ``None``.

        Returns:
            :class:`BertModelOutput`.
        """
        input_ids = backend.asarray(unwrap(input_ids))
        where = f"BertModel(hidden_size={self.config.hidden_size})"
        if input_ids.ndim != 2 or input_ids.dtype.kind not in "iu":
            raise ShapeError(f"{where}: input_ids must be integer (N, L), got {input_ids.dtype} "
                             f"{input_ids.shape}")
        limit = self.config.max_position_embeddings
        if input_ids.shape[1] > limit:
            raise ShapeError(f"{where}: input_ids has {input_ids.shape[1]} positions, but the model has "
                             f"max_position_embeddings={limit}; cut the sequences to {limit} tokens")
        if token_type_ids is None:
            token_type_ids = np.zeros_like(input_ids)
        keep = None
        if attention_mask is not None:
            mask = backend.asarray(unwrap(attention_mask))
            if mask.shape != input_ids.shape:
                raise ShapeError(f"{where}: attention_mask must have input_ids' shape {input_ids.shape}, "
                                 f"got {mask.shape}")
            if not mask.all():
                keep = mask.astype(bool)[:, None, None, :]  # (N, 1, 1, L): every query sees the tokens
        hidden = self.encoder(self.embeddings(input_ids, backend.asarray(unwrap(token_type_ids))), keep)
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BertModelOutput(hidden, pooled)

    @classmethod
    def from_pretrained(cls, directory, generator=None):
        """Read a Hugging Face directory: ``config.json`` (``model_type: bert``) and
        ``model.safetensors`` with ``BertModel``'s names (a ``bert.`` prefix, as in
        ``BertForSequenceClassification``, is removed; other heads' weights are ignored). The model
        comes back in evaluation mode, as from ``transformers``.

        Raises:
            CheckpointError: naming the directory and what is missing or of another architecture.
        """
        directory = Path(directory)
        config_path, weights_path = directory / "config.json", directory / "model.safetensors"
        missing = [path.name for path in (config_path, weights_path) if not path.is_file()]
        if not directory.is_dir() or missing:
            raise CheckpointError(f"BertModel.from_pretrained: {directory} "
                                  + ("is not a directory" if not directory.is_dir() else
                                     f"has no {' and no '.join(missing)}")
                                  + "; a Hugging Face BERT directory holds config.json and model.safetensors")
        config = BertConfig.from_dict(json.loads(config_path.read_text()), where=str(config_path))
        from safetensors.numpy import load_file
        state = _bert_names(load_file(str(weights_path)))
        model = cls(config, add_pooling_layer=any(name.startswith("pooler.") for name in state),
                    generator=generator)
        own = set(model.state_dict())
        model.load_state_dict({name: value for name, value in state.items() if name in own})
        return model.eval()  # as transformers returns it: call .train() to fine-tune with dropout

    def save_pretrained(self, directory):
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if missing),
        each atomically, in the layout :meth:`from_pretrained` and ``transformers`` read."""
        from safetensors.numpy import save
        from ..serialization import write_atomic
        os.makedirs(directory, exist_ok=True)
        write_atomic(os.path.join(directory, "config.json"),
                     json.dumps(self.config.to_dict(), indent=2).encode())
        arrays = {name: np.ascontiguousarray(value) for name, value in self.state_dict().items()}
        write_atomic(os.path.join(directory, "model.safetensors"), save(arrays, metadata={"format": "pt"}))


def _bert_names(state):
    """Hugging Face names as ``BertModel`` has them: no ``bert.`` prefix, ``gamma``/``beta`` (old
    TensorFlow-converted checkpoints) as ``weight``/``bias``."""
    renamed = {}
    for name, value in state.items():
        name = name[len("bert."):] if name.startswith("bert.") else name
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        renamed[name] = value
    return renamed


def mean_pool(hidden, attention_mask):
    """The mean of each sequence's token states, padding left out: ``Σ_t m_t h_t / max(Σ_t m_t, 1e-9)``
    (sentence-transformers' mean pooling).

    Args:
        hidden: ``(N, L, E)``.
        attention_mask: ``(N, L)``, 1 for tokens, 0 for padding.

    Returns:
        ``(N, E)``.
    """
    mask = backend.asarray(unwrap(attention_mask)).astype(hidden.dtype)[:, :, None]
    counts = np.maximum(mask.sum(axis=1), 1e-9)
    return ops.sum(hidden * mask, axis=1) / counts


def l2_normalize(x, eps=1e-12):
    """``x / max(‖x‖, eps)`` along the last axis (``torch.nn.functional.normalize``)."""
    norm = ops.sqrt(ops.sum(x * x, axis=-1, keepdims=True))
    return x / ops.maximum(norm, eps)
