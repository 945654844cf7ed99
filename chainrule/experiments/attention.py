"""Softmax in attention: what a trained GPT's heads look at, why scores are divided by √d, and the
causal mask."""

import dataclasses
import math

import numpy as np

import chainrule as cr
from chainrule.data.shakespeare import get_batch, load_shakespeare, split
from chainrule.nn.gpt import GPT, GPTConfig
from chainrule.ops.attention import attention_weights, causal_mask
from chainrule.train.lm import lr_at, param_groups

from .report import new_figure, save_figure
from .result import Result, Table

NAME = "attention"
TITLE = "Softmax in attention: heads, the 1/√d scale, the causal mask"
CLAIM = ("Attention is a softmax over scores q·k: without the 1/√d scale the scores grow like √d, the "
         "softmax saturates to one key and the gradient through it vanishes as the width grows; with the "
         "scale it stays put. A causal mask lets position t see positions 0..t only, and a trained GPT's "
         "heads use that window in different ways.")

VERSE = "To be, or not to be, that is the question:"
WIDTHS = (4, 16, 64, 256, 1024)
KEYS = 32
QUICK_TEXT = ("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the "
              "sun.\n") * 40


def _gradient_through_softmax(width, scaled, rng, draws):
    """For one query over random keys (unit-variance entries of width ``width``): the median norm of the
    gradient that passes through the softmax, ``‖∂⟨u, softmax(s)⟩/∂s‖`` for a unit-variance cotangent
    ``u`` of the weights, and the median largest weight; the scores ``s = q·k`` scaled by 1/√width or
    not."""
    norms, peaks = [], []
    scale = 1 / math.sqrt(width) if scaled else 1.0
    for _ in range(draws):
        q, k, u = rng.normal(size=(1, width)), rng.normal(size=(KEYS, width)), rng.normal(size=(1, KEYS))
        scores = (q @ k.T) * scale
        weights = attention_weights(q, k, scale=scale).numpy()
        grad = cr.grad(lambda s: (cr.softmax(s, axis=-1) * u).sum())(scores).numpy()
        norms.append(np.linalg.norm(grad))
        peaks.append(weights.max())
    return float(np.median(norms)), float(np.median(peaks))


@dataclasses.dataclass
class Settings:
    """The small GPT's sizes and nanoGPT's schedule (``chainrule train --model gpt``'s defaults)."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    max_iters: int
    warmup_iters: int
    lr_decay_iters: int
    batch_size: int = 12
    lr: float = 1e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.1


def _train_small_gpt(quick, seed):
    """A 2-layer GPT trained briefly on the Shakespeare slice (a built-in verse in quick mode)."""
    if quick:
        train_ids, _, vocabulary = split(QUICK_TEXT + VERSE)
        config = Settings(n_layer=1, n_head=2, n_embd=16, block_size=48, batch_size=4, max_iters=20,
                          warmup_iters=2, lr_decay_iters=20)
    else:
        train_ids, _, vocabulary = load_shakespeare()
        config = Settings(n_layer=2, n_head=4, n_embd=64, block_size=64, max_iters=600, warmup_iters=50,
                          lr_decay_iters=600)
    model = GPT(GPTConfig(block_size=config.block_size, vocab_size=len(vocabulary), n_layer=config.n_layer,
                          n_head=config.n_head, n_embd=config.n_embd), generator=seed)
    optimizer = cr.optim.AdamW(param_groups(model, config), lr=config.lr, betas=(0.9, 0.99))
    rng = np.random.default_rng(seed)
    for iteration in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(iteration, config)
        _, loss = model(*get_batch(train_ids, config.block_size, config.batch_size, rng))
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval(), vocabulary, config, float(loss.item())


def _attention_maps(model, ids):
    """Every block's attention weights on ``ids`` ``(T,)``: ``(layers, heads, T, T)``."""
    maps = []
    with cr.no_grad():
        x = model.transformer.wte(ids[None]) + model.transformer.wpe(np.arange(len(ids)))
        for block in model.transformer.h:
            attn, h = block.attn, block.ln_1(x)
            q, k, _ = (part.reshape(1, len(ids), attn.n_head, -1).swapaxes(1, 2)
                       for part in cr.nn.gpt._split_last(attn.c_attn(h), 3))
            maps.append(attention_weights(q, k, keep=causal_mask(len(ids))).numpy()[0])
            x = block(x)
    return np.array(maps)


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: 16 draws per width and a tiny GPT on a built-in verse (20 iterations) instead of 200
            draws and a 2-layer GPT trained 600 iterations on the Shakespeare slice.
        seed: the seed of the random vectors and of the GPT's training.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    rng = np.random.default_rng(seed)
    draws = 16 if quick else 200
    study = {(width, scaled): _gradient_through_softmax(width, scaled, rng, draws)
             for width in WIDTHS for scaled in (True, False)}

    model, vocabulary, config, final_loss = _train_small_gpt(quick, seed)
    verse = VERSE[:config.block_size]
    ids = vocabulary.encode(verse)
    maps = _attention_maps(model, ids)
    # How far back each head looks, on average: Σ_j p_ij (i - j), averaged over positions i.
    distance = (maps * (np.arange(len(ids))[:, None] - np.arange(len(ids))[None, :])).sum(-1).mean(-1)

    metrics = {f"grad_norm_{'scaled' if s else 'unscaled'}_{w}": study[(w, s)][0] for (w, s) in study}
    metrics |= {f"peak_weight_{'scaled' if s else 'unscaled'}_{w}": study[(w, s)][1] for (w, s) in study}
    metrics |= {"causal_weights_above_diagonal": float(np.abs(np.triu(maps, 1)).max()),
                "rows_sum_to_one": float(np.abs(maps.sum(-1) - 1).max()), "gpt_final_train_loss": final_loss}

    tables = [
        Table(f"Attention of one query over {KEYS} random keys (unit-variance entries, {draws} draws per "
              "width, medians): the largest weight and the norm of the gradient through the softmax, ‖∂⟨u, "
              "softmax(s)⟩/∂s‖ for a unit-variance cotangent u",
              ["width d", "score std unscaled (√d)", "largest weight, s = q·k/√d", "largest weight, s = q·k",
               "‖grad‖, q·k/√d", "‖grad‖, q·k"],
              [[w, math.sqrt(w), study[(w, True)][1], study[(w, False)][1], study[(w, True)][0],
                study[(w, False)][0]] for w in WIDTHS]),
        Table(f"The trained GPT ({config.n_layer} layers × {config.n_head} heads, {config.max_iters} "
              f"iterations, last training loss {final_loss:.3f}) on “{verse}”: how far back each head looks "
              "(mean of i − j weighted by the attention)",
              ["layer", *[f"head {h}" for h in range(config.n_head)]],
              [[layer, *distance[layer]] for layer in range(config.n_layer)]),
    ]
    notes = ["Unscaled, the scores of width-d vectors have standard deviation √d: the softmax puts nearly "
             "all its weight on one key, its Jacobian diag(s) − s sᵀ tends to zero, and so does the gradient "
             "that reaches the queries and keys. Dividing by √d keeps the scores at unit variance at every "
             "width — the same saturation the softmax chapter showed for large logits.",
             "The causal mask is applied inside the attention primitive: weights above the diagonal are "
             f"exactly zero (largest: {metrics['causal_weights_above_diagonal']:.1g}), each row sums to one."]

    figures = [_maps_figure(maps, verse, config, out_dir), _scale_figure(study, out_dir),
               _mask_figure(out_dir)]
    widest = WIDTHS[-1]
    headline = (f"At width {widest} the unscaled softmax puts {study[(widest, False)][1]:.0%} of the weight on "
                f"one key and passes a gradient of norm {study[(widest, False)][0]:.2g}, against "
                f"{study[(widest, True)][1]:.0%} and {study[(widest, True)][0]:.2g} with the 1/√d scale; the "
                f"causal mask keeps every weight above the diagonal at zero.")
    return Result(headline, tables, figures, metrics, notes)


def _maps_figure(maps, verse, config, out_dir):
    layers, heads = maps.shape[:2]
    fig, axes = new_figure(heads, layers, width=3.2, height=3.2, squeeze=False)
    ticks = np.arange(len(verse))
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(maps[layer, head], cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"layer {layer}, head {head}", fontsize=9)
            ax.set_xticks(ticks[::3], [repr(verse[i])[1:-1] for i in ticks[::3]], fontsize=6)
            ax.set_yticks(ticks[::3], [repr(verse[i])[1:-1] for i in ticks[::3]], fontsize=6)
    axes[0][0].set_ylabel("query position")
    axes[-1][0].set_xlabel("key position")
    return save_figure(fig, out_dir, "attention_maps")


def _scale_figure(study, out_dir):
    fig, (ax_grad, ax_peak) = new_figure(2, width=4.2)
    for scaled, style in ((True, "o-"), (False, "s--")):
        label = "q·k/√d" if scaled else "q·k"
        ax_grad.plot(WIDTHS, [study[(w, scaled)][0] for w in WIDTHS], style, label=label)
        ax_peak.plot(WIDTHS, [study[(w, scaled)][1] for w in WIDTHS], style, label=label)
    ax_grad.set(xscale="log", yscale="log", xlabel="width d", ylabel="‖∂⟨u, softmax(s)⟩/∂s‖",
                title="gradient through the softmax")
    ax_peak.set(xscale="log", xlabel="width d", ylabel="largest attention weight", ylim=(0, 1.05),
                title="saturation")
    ax_grad.legend()
    return save_figure(fig, out_dir, "attention_scale")


def _mask_figure(out_dir, length=12):
    fig, ax = new_figure(1, width=3.4)
    ax.imshow(causal_mask(length), cmap="Greens", vmin=0, vmax=1.4)
    ax.set(title="causal mask: query t sees keys 0..t", xlabel="key position", ylabel="query position")
    return save_figure(fig, out_dir, "causal_mask")

