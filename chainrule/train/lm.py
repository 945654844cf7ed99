"""Language-model runs: a GPT trained by iterations on random windows of a text, as nanoGPT does.

Epochs mean little for a language model (a window can start anywhere), so these runs count iterations:
each draws ``batch_size`` random windows of ``block_size`` characters. The defaults are nanoGPT's CPU
baseline for character-level Shakespeare: 4 layers, 4 heads, 128 dimensions, context 64, batch 12,
2,000 iterations, no dropout, AdamW (betas 0.9, 0.99; weight decay 0.1 on matrices only) with 100
warm-up iterations and cosine decay from 1e-3 to 1e-4, gradients clipped to norm 1. With ``compile``
the training step (forward, loss, backward, clipping, AdamW) is recorded once and replayed
(:func:`chainrule.compile`): the same weights bit for bit; evaluation and sampling stay eager.

A run directory holds:

===================== ================================================================
``config.json``       the settings (:class:`LMConfig`)
``run.json``          the vocabulary, the parameter count, and the results
``last.safetensors``  the checkpoint at the last evaluation (written atomically; ``resume``)
``history.json``      one record per evaluation: iteration, losses, learning rate, seconds
``report.md``         validation loss, time, a sample, the command that reproduces them
===================== ================================================================
"""

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..compile import compile as compile_step
from ..core.graph import no_grad
from ..data.shakespeare import CharVocabulary, get_batch, load_shakespeare, split
from ..errors import DataError
from ..nn.gpt import GPT, GPTConfig
from ..serialization import write_atomic
from .checkpoint import load_checkpoint, save_checkpoint
from .models import get_model
from .runs import ConfigError, _claim, _read_json, _silent, _write_json
from .trainer import _generators

LAST = "last.safetensors"


@dataclasses.dataclass
class LMConfig:
    """The settings of a language-model run (nanoGPT's names where it has one)."""

    data: str = "shakespeare"  # "shakespeare", "news", or the path of a UTF-8 text file
    model: str = "gpt"
    n_layer: int = GPTConfig.n_layer  # the model's settings default to GPTConfig's
    n_head: int = GPTConfig.n_head
    n_embd: int = GPTConfig.n_embd
    block_size: int = GPTConfig.block_size
    dropout: float = GPTConfig.dropout
    bias: bool = GPTConfig.bias
    batch_size: int = 12
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    final_eval_iters: int = 200
    seed: int = 1337
    compile: bool = False

    def __post_init__(self):
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters", "eval_interval",
                     "eval_iters", "final_eval_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, not {value!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), not {self.dropout!r}")
        if not isinstance(self.compile, bool):
            raise ConfigError(f"compile must be true or false, not {self.compile!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown language-model settings: {', '.join(unknown)}")
        return cls(**values)

    def gpt_config(self, vocab_size):
        """The :class:`GPTConfig` of these settings for a vocabulary of ``vocab_size``."""
        sizes = {field.name: getattr(self, field.name) for field in dataclasses.fields(GPTConfig)
                 if field.name != "vocab_size"}
        return GPTConfig(vocab_size=vocab_size, **sizes)


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
    return split(path.read_text(encoding="utf-8"))


def lr_at(iteration, config):
    """nanoGPT's schedule: linear warm-up, cosine decay to ``min_lr`` at ``lr_decay_iters``, then flat."""
    if iteration < config.warmup_iters:
        return config.lr * (iteration + 1) / (config.warmup_iters + 1)
    if iteration > config.lr_decay_iters:
        return config.min_lr
    progress = (iteration - config.warmup_iters) / (config.lr_decay_iters - config.warmup_iters)
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def build_optimizer(model, config):
    """AdamW with weight decay on the matrices (weights, embeddings) only, not on biases and norms."""
    parameters = list(model.parameters())
    return optim.AdamW([{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": config.weight_decay},
                        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}],
                       lr=config.lr, betas=(config.beta1, config.beta2))


def training_step(model, optimizer, config):
    """One AdamW step on a batch ``(idx, targets)``, returning the loss tensor (compiled with
    ``config.compile``; the learning rate is set on the optimiser before the call)."""
    def step(idx, targets):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        return loss
    return compile_step(step) if config.compile else step


def estimate_loss(model, ids, config, iters, rng):
    """The mean loss over ``iters`` random batches of ``ids``, in evaluation mode."""
    model.eval()
    with no_grad():
        losses = [model(*get_batch(ids, config.block_size, config.batch_size, rng))[1].item()
                  for _ in range(iters)]
    model.train()
    return float(np.mean(losses))


def train_lm(config, run_dir, resume=False, force=False, log=print):
    """Train (or, with ``resume``, continue) a language model as ``config`` says, into ``run_dir``.

    Args:
        config: an :class:`LMConfig` (ignored with ``resume``: the run's own is used).
        run_dir: the run directory.
        resume: continue from the run's last checkpoint.
        force: replace another run found in ``run_dir``.
        log: called with lines worth showing, or ``None``.

    Returns:
        The ``run.json`` record, with the final validation loss under ``"results"``.
    """
    run_dir, log = Path(run_dir), log or _silent
    if resume:
        config = read_lm_config(run_dir)
    else:
        _claim(run_dir, force)
    train_ids, val_ids, vocabulary = load_corpus(config.data)
    model = GPT(config.gpt_config(len(vocabulary)), generator=config.seed)
    optimizer = build_optimizer(model, config)
    rng = np.random.default_rng(config.seed)
    start, history, seconds = 0, [], 0.0
    if resume:
        state = load_checkpoint(run_dir / LAST)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["random"]["batches"]
        for name, generator in _generators(model).items():
            generator.bit_generator.state = state["random"][name]
        start, history, seconds = state["iteration"], list(state["history"]), state["seconds"]
    record = {"vocabulary": vocabulary.to_dict(), "parameters": model.num_parameters(),
              "data": {"train_tokens": len(train_ids), "val_tokens": len(val_ids)}}
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", config.to_dict())
    _write_json(run_dir / "run.json", record)
    log(f"data: {config.data}, {len(train_ids):,} training / {len(val_ids):,} validation characters, "
        f"vocabulary {len(vocabulary)}; model: GPT {config.n_layer} layers, {config.n_head} heads, "
        f"{config.n_embd} dims, {model.num_parameters() / 1e6:.2f}M parameters")

    step = training_step(model, optimizer, config)
    eval_rng = np.random.default_rng(config.seed + 1)
    started, cpu_started = time.perf_counter(), time.process_time()
    for iteration in range(start, config.max_iters + 1):
        if iteration % config.eval_interval == 0 or iteration == config.max_iters:
            seconds += time.perf_counter() - started
            entry = {"iteration": iteration, "lr": lr_at(iteration, config), "seconds": round(seconds, 2),
                     "train_loss": estimate_loss(model, train_ids, config, config.eval_iters, eval_rng),
                     "val_loss": estimate_loss(model, val_ids, config, config.eval_iters, eval_rng)}
            if not history or history[-1]["iteration"] != iteration:
                history.append(entry)
            log(f"step {iteration}: train loss {entry['train_loss']:.4f}, val loss {entry['val_loss']:.4f}, "
                f"{seconds:.0f} s")
            state = {"iteration": iteration, "seconds": seconds, "history": history, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(),
                     "random": {"batches": rng.bit_generator.state,
                                **{name: g.bit_generator.state for name, g in _generators(model).items()}}}
            save_checkpoint(state, run_dir / LAST)
            started = time.perf_counter()
        if iteration == config.max_iters:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(iteration, config)
        step(*get_batch(train_ids, config.block_size, config.batch_size, rng))

    final = estimate_loss(model, val_ids, config, config.final_eval_iters, np.random.default_rng(0))
    sample = vocabulary.decode(model.generate(vocabulary.encode("\n")[None], 300, generator=0)[0])
    record["results"] = {"iterations": config.max_iters, "val_loss": final,
                         "val_loss_batches": config.final_eval_iters, "training_seconds": round(seconds, 1),
                         "cpu_seconds_this_session": round(time.process_time() - cpu_started, 1),
                         "sample": sample}
    _write_json(run_dir / "history.json", history)
    _write_json(run_dir / "run.json", record)
    write_atomic(run_dir / "report.md", _report(config, record))
    log(f"validation loss {final:.4f} ({config.final_eval_iters} batches), {seconds:.0f} s of training; "
        f"run directory: {run_dir}")
    return record


def read_lm_config(run_dir):
    """The :class:`LMConfig` saved in a run directory."""
    return LMConfig.from_dict(_read_json(Path(run_dir) / "config.json"))


def is_lm_run(run_dir):
    """Whether ``run_dir`` holds a language-model run."""
    path = Path(run_dir) / "config.json"
    return path.is_file() and _read_json(path).get("model") == "gpt"


def load_lm_run(run_dir):
    """``(config, vocabulary, model)`` of a language-model run, with its last checkpoint's weights."""
    run_dir = Path(run_dir)
    config = read_lm_config(run_dir)
    vocabulary = CharVocabulary.from_dict(_read_json(run_dir / "run.json")["vocabulary"])
    model = GPT(config.gpt_config(len(vocabulary)), generator=0)
    model.load_state_dict(load_checkpoint(run_dir / LAST)["model"])
    return config, vocabulary, model.eval()


def generate_text(run_dir, prompt="\n", tokens=300, temperature=1.0, top_k=None, seed=0):
    """The prompt and ``tokens`` characters sampled after it by the run's model (reproducible for a
    seed).

    Raises:
        DataError: when the prompt has characters outside the model's vocabulary, or is longer than
            the model's context.
    """
    config, vocabulary, model = load_lm_run(run_dir)
    if not prompt:
        raise DataError("generate: the prompt is empty; give at least one character (e.g. a newline)")
    try:
        ids = vocabulary.encode(prompt)
    except DataError as error:
        raise DataError(f"generate: the prompt has {error}") from None
    if len(ids) > config.block_size:
        raise DataError(f"generate: the prompt has {len(ids)} characters, more than the model's context of "
                        f"{config.block_size}; shorten it")
    return vocabulary.decode(model.generate(ids[None], tokens, temperature=temperature, top_k=top_k,
                                            generator=seed)[0])


def _report(config, record):
    results = record["results"]
    return "\n".join([
        f"# Language model: {config.data}", "",
        f"- validation loss: **{results['val_loss']:.4f}** nats per character "
        f"({results['val_loss_batches']} batches of {config.batch_size} x {config.block_size})",
        f"- model: GPT, {config.n_layer} layers, {config.n_head} heads, {config.n_embd} dims, context "
        f"{config.block_size}, {record['parameters'] / 1e6:.2f}M parameters",
        f"- training: {results['iterations']} iterations of batch {config.batch_size}, AdamW lr {config.lr:g} "
        f"(warm-up {config.warmup_iters}, cosine to {config.min_lr:g}), seed {config.seed}; "
        f"{results['training_seconds']:.0f} s (wall clock, evaluations included; "
        f"{results['cpu_seconds_this_session']:.0f} s of CPU time in the last session)",
        "", "Sample (prompt: a newline, seed 0):", "", "```", results["sample"], "```", ""])


# -- the command line: `chainrule train --model gpt`, `chainrule generate` -------------------------

# RunConfig's generic flags that mean the same here, by LMConfig name.
_GENERIC = {"lr": "lr", "batch_size": "batch_size", "dropout": "dropout", "weight_decay": "weight_decay",
            "seed": "seed", "clip_grad_norm": "grad_clip", "data": "data", "compile": "compile"}


def wants_lm(args, given):
    """Whether a ``chainrule train`` command line asks for a language-model run."""
    if getattr(args, "resume", False) and args.out is not None:
        return is_lm_run(args.out)
    return given.get("model") == "gpt"


def train_command(args, given, options, log):
    """``chainrule train --model gpt [--data shakespeare|FILE] [settings]``; returns the exit status."""
    if args.resume:
        train_lm(None, args.out, resume=True, log=log)
        return 0
    unknown = sorted(set(given) - set(_GENERIC) - {"model"})
    if unknown or args.config:
        named = ["--" + name.replace("_", "-") for name in unknown] + (["--config"] if args.config else [])
        raise ConfigError(f"--model gpt takes the flags {', '.join(sorted(_LM_FLAGS))}, not {', '.join(named)}")
    values = {_GENERIC[name]: value for name, value in given.items() if name in _GENERIC}
    settings = get_model("gpt").settings
    for name, text in options.items():
        try:
            values[name] = settings[name].parse(text) if isinstance(text, str) else text
        except ValueError as error:
            raise ConfigError(f"--{name.replace('_', '-')}: {error}") from None
    config = LMConfig.from_dict(values)
    out = args.out or Path("runs") / f"gpt-{Path(config.data).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    record = train_lm(config, out, force=args.force, log=log)
    print(f"validation loss: {record['results']['val_loss']:.4f} nats per character")
    return 0


def positive_int(text):
    """A flag's value as a positive int (the models' size settings share this parser)."""
    value = int(text)
    if value < 1:
        raise ValueError(f"must be a positive int, not {value}")
    return value


def _register():
    from .models import Setting, register_model

    def build(config, info):
        lm_config = LMConfig(**{k: v for k, v in config.options.items() if k in _MODEL_SETTINGS})
        return GPT(lm_config.gpt_config(info.vocab_size), generator=config.seed)

    defaults = LMConfig()
    settings = {name: Setting(getattr(defaults, name), help, parse, metavar)
                for name, (help, parse, metavar) in {
                    "n_layer": ("transformer blocks", positive_int, "N"),
                    "n_head": ("attention heads per block", positive_int, "N"),
                    "n_embd": ("embedding width", positive_int, "N"),
                    "block_size": ("context length in tokens", positive_int, "N"),
                    "max_iters": ("training iterations", positive_int, "N"),
                    "warmup_iters": ("learning-rate warm-up iterations", int, "N"),
                    "lr_decay_iters": ("iterations of the cosine decay", positive_int, "N"),
                    "min_lr": ("the learning rate the cosine decay ends at", float, "LR"),
                    "eval_interval": ("iterations between evaluations and checkpoints", positive_int, "N"),
                    "eval_iters": ("batches per evaluation", positive_int, "N"),
                }.items()}
    register_model("gpt", build, inputs="tokens", settings=settings,
                   summary="a GPT language model, trained by iterations (--data shakespeare or a text "
                           "file; --n-layer, --n-head, --n-embd, --block-size, --max-iters)")


_MODEL_SETTINGS = ("n_layer", "n_head", "n_embd", "block_size", "dropout", "bias")
_LM_FLAGS = {"--data", "--lr", "--batch-size", "--dropout", "--weight-decay", "--seed", "--clip-grad-norm",
             "--n-layer", "--n-head", "--n-embd", "--block-size", "--max-iters", "--warmup-iters",
             "--lr-decay-iters", "--min-lr", "--eval-interval", "--eval-iters", "--compile", "--out",
             "--force", "--resume"}
_register()
