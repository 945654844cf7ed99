"""The GPT language-model family: a text as character ids, random windows, nanoGPT's schedule, and
sampling from a trained run.

A language-model run is a run like any other (:mod:`chainrule.train.runs`): settings, data, model, a
loop, checkpoints, history, report. Epochs mean little for a language model (a window can start
anywhere), so its loop counts iterations (:class:`~chainrule.train.IterationTrainer`): each draws
``batch_size`` random windows of ``block_size`` characters. The defaults are nanoGPT's CPU baseline
for character-level Shakespeare: 4 layers, 4 heads, 128 dimensions, context 64, batch 12, 2,000
iterations, no dropout, AdamW (betas 0.9, 0.99; weight decay 0.1 on matrices only) with 100 warm-up
iterations and cosine decay from 1e-3 to 1e-4, gradients clipped to norm 1.
"""

import math
from pathlib import Path

import numpy as np

from ..core.graph import no_grad
from ..data.shakespeare import CharVocabulary, get_batch, load_shakespeare, split
from ..errors import DataError
from ..nn.gpt import GPT, GPTConfig
from .placing import placer

__all__ = ["GPTConfig", "load_corpus", "lr_at", "gpt_config", "build", "objective", "param_groups",
           "windows", "estimate_loss", "stream_text"]


def load_corpus(data):
    """``(train_ids, validation_ids, vocabulary)`` of ``data``: ``"shakespeare"`` (the plays' slice),
    ``"news"`` (general English: gensim's ``lee_background.cor``, 300 Australian news articles, 360 kB,
    see :func:`chainrule.data.text.gensim_test_data`) or a UTF-8 text file's path; 90/10 split."""
    if data == "shakespeare":
        return load_shakespeare()
    if data == "news":
        from ..data.text import gensim_test_data
        return split(gensim_test_data("lee_background.cor").decode("utf-8"))
    path = Path(data)
    if not path.is_file():
        raise DataError(f"language-model data must be 'shakespeare', 'news' or a text file; {data!r} is "
                        f"none of them")
    try:
        return split(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error.reason} at byte {error.start}") from None


def lr_at(iteration, config):
    """nanoGPT's schedule: linear warm-up, cosine decay to ``min_lr`` at ``lr_decay_iters``, then flat
    (``config`` has ``lr``, ``min_lr``, ``warmup_iters`` and ``lr_decay_iters``)."""
    if iteration < config.warmup_iters:
        return config.lr * (iteration + 1) / (config.warmup_iters + 1)
    if iteration > config.lr_decay_iters:
        return config.min_lr
    progress = (iteration - config.warmup_iters) / (config.lr_decay_iters - config.warmup_iters)
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def gpt_config(config, vocab_size):
    """The :class:`GPTConfig` of a run's settings (its ``options`` and ``dropout``)."""
    options = config.options
    return GPTConfig(block_size=options["block_size"], vocab_size=vocab_size, n_layer=options["n_layer"],
                     n_head=options["n_head"], n_embd=options["n_embd"], dropout=config.dropout,
                     bias=options.get("bias", True))


def build(config, info):
    """A :class:`~chainrule.nn.gpt.GPT` for a vocabulary of ``info.vocab_size`` characters."""
    options = config.options
    if options["n_embd"] % options["n_head"]:
        from .settings import ConfigError
        raise ConfigError(f"--n-embd {options['n_embd']} is not divisible by n_head {options['n_head']}")
    return GPT(gpt_config(config, info.vocab_size), generator=config.seed)


def describe(config, info, model):
    c, count = model.config, model.num_parameters()
    size = f"{count / 1e6:.2f}M" if count >= 100_000 else f"{count:,}"
    return f"GPT {c.n_layer} layers, {c.n_head} heads, {c.n_embd} dims, context {c.block_size}, {size} parameters"


def objective(model, x, y):
    """The mean cross-entropy of the next characters: the GPT computes it itself."""
    return model(x, y)[1]


def param_groups(model, config):
    """Weight decay on the matrices (weights, embeddings) only, not on biases and norms (nanoGPT)."""
    parameters = list(model.parameters())
    return [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": config.weight_decay},
            {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}]


def windows(config):
    """``sample(ids, rng) -> (x, y)``: ``batch_size`` random windows of the run's context length."""
    block_size, batch_size = config.options["block_size"], config.batch_size
    return lambda ids, rng: get_batch(ids, block_size, batch_size, rng)


def estimate_loss(model, ids, sample, iters, rng):
    """The mean loss over ``iters`` batches ``sample(ids, rng)``, in evaluation mode."""
    model.eval()
    put = placer(model)
    with no_grad():
        losses = [objective(model, *map(put, sample(ids, rng))).item() for _ in range(iters)]
    model.train()
    return float(np.mean(losses))


def stream_text(model, vocabulary, prompt, tokens, temperature=1.0, top_k=None, seed=0):
    """The characters ``model`` samples after ``prompt``, a generator of one string per step as they
    come (reproducible for a seed); the arguments are checked at once.

    Raises:
        DataError: when the prompt is empty, has characters outside the model's vocabulary, or is
            longer than the model's context.
    """
    if not prompt:
        raise DataError("generate: the prompt is empty; give at least one character (e.g. a newline)")
    try:
        ids = vocabulary.encode(prompt)
    except DataError as error:
        raise DataError(f"generate: the prompt has {error}") from None
    if len(ids) > model.config.block_size:
        raise DataError(f"generate: the prompt has {len(ids)} characters, more than the model's context of "
                        f"{model.config.block_size}; shorten it")
    steps = model.stream(ids[None], tokens, temperature=temperature, top_k=top_k, generator=seed)
    return (vocabulary.decode(step[0]) for step in steps)


def run_vocabulary(record):
    """The :class:`~chainrule.data.shakespeare.CharVocabulary` of a language-model run's ``run.json``."""
    return CharVocabulary(record["data"]["vocabulary"])
