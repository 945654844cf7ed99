"""The report stage of a run: ``report.md`` and the line the command prints last."""

from .metrics import score_line
from .prepare import describe_sizes


def result_line(record):
    """The headline of a run's results: ``test accuracy: 97.50%``, ``test RMSE: 0.1234`` or
    ``validation loss: 1.8812 nats per character``."""
    results = record["results"]
    if "test" in results:
        return score_line(results["test"])
    return f"validation loss: {results['val_loss']:.4f} nats per character"


def report(config, record):
    """The Markdown report of a finished run."""
    data, results = record["data"], record["results"]
    unit = "characters" if data["task"] == "language-model" else "examples"
    if "test" in results:
        test = results["test"]
        headline = f"{score_line(test, bold='**')} (loss {test['loss']:.4f})"
    else:
        headline = (f"validation loss: **{results['val_loss']:.4f}** nats per character "
                    f"({results['val_loss_batches']} batches of {config.batch_size} windows)")
    position = results["position"]
    total = config.epochs if position == "epoch" else config.max_iters
    schedule = config.schedule
    if schedule == "warmup-cosine":
        schedule += f" (warm-up {config.warmup_iters}, cosine to {config.min_lr:g} at {config.lr_decay_iters})"
    lines = [
        f"# Training run: {data['name']}", "",
        f"- {headline}",
        f"- data: {data['name']}, {describe_sizes(data['sizes'], unit)}; {data['source']}",
        f"- model: {record['model']['kind']}" + _model_settings(config),
        f"- training: {config.loss + ' loss, ' if config.loss else ''}{config.optimizer} lr {config.lr:g}, batch "
        f"{config.batch_size}, schedule {schedule}, seed {config.seed}; {results['done']} of {total} "
        f"{position}s, best {position} {results['best']} by {results['monitor']}",
        f"- time: {results['training_seconds']:.1f} s training, {results['seconds']:.1f} s for the whole command",
        "- reproduce: `chainrule train --config config.json --out NEW_DIR`",
    ]
    if "per_class_accuracy" in results.get("test", {}):
        per_class = results["test"]["per_class_accuracy"]
        lines += ["", "| class | " + " | ".join(map(str, range(len(per_class)))) + " |",
                  "|---" * (len(per_class) + 1) + "|",
                  "| accuracy | " + " | ".join(f"{a:.1%}" for a in per_class) + " |"]
    if "sample" in results:
        lines += ["", "Sample of the best weights (prompt: a newline, seed 0):", "", "```", results["sample"], "```"]
    return "\n".join(lines + ["", "![learning curves](curves.png)", ""])


def _model_settings(config):
    shown = [f"{name} {getattr(config, name)}" for name in ("activation", "dropout", "norm", "residual")
             if getattr(config, name) is not None]
    return ", " + ", ".join(shown) if shown else ""
