"""`chainrule train --model gpt` (compiled by default): the compiled language-model step gives the eager
run's weights to float32 rounding, and the command line takes `--no-compile`."""

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.train import IterationTrainer, ModelInfo, RunConfig, lm, train_run
from chainrule.train.build import build_optimizer
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.rundir import read_config

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 30
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "batch_size": 4, "eval_interval": 4,
        "eval_iters": 2, "final_eval_iters": 2, "warmup_iters": 3, "lr_decay_iters": 10, "lr": 3e-3,
        "max_iters": 10}


def _train(tmp_path, name, **settings):
    text = tmp_path / "verse.txt"
    text.write_text(TEXT)
    config = RunConfig.from_dict({"model": "gpt", "data": str(text), **TINY, **settings})
    record = train_run(config, tmp_path / name, progress=False)
    return record, load_checkpoint(tmp_path / name / "last.safetensors")["model"]


def test_compiled_steps_give_the_eager_weights_to_float32_rounding(tmp_path):
    # Fused kernels (GELU, AdamW) round differently from NumPy: after 10 steps the weights agree to
    # 1e-5 relative, and to 1e-5 absolute where Adam turns a gradient at rounding level (a bias of
    # gradient ~0) into a step of its sign.
    for dropout in (0.0, 0.1):  # clipping and the schedule; then dropout's fresh masks too
        eager_record, eager = _train(tmp_path, f"eager-{dropout}", dropout=dropout, compile=False)
        compiled_record, compiled = _train(tmp_path, f"compiled-{dropout}", dropout=dropout, compile=True)
        assert eager.keys() == compiled.keys()
        for name in eager:
            np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-5, atol=1e-5, err_msg=name)
        assert compiled_record["results"]["val_loss"] == pytest.approx(eager_record["results"]["val_loss"],
                                                                       rel=1e-5)


def test_the_step_is_recorded_once_then_replayed_as_the_learning_rate_changes():
    config = RunConfig.from_dict({"model": "gpt", "data": "shakespeare", "compile": True, **TINY}).resolved()
    model = lm.build(config, ModelInfo((16,), 11, "language-model", 11))
    optimizer = build_optimizer(config, model)
    trainer = IterationTrainer(model, lm.objective, optimizer, lm.windows(config), compile=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 11, 200)
    for iteration in range(4):
        optimizer.param_groups[0]["lr"] = lm.lr_at(iteration, config)
        assert np.isfinite(trainer.compiled_step(*trainer.sample(ids, rng)).item())
    assert trainer.compiled_step.recordings == 1


def test_command_line_trains_with_compile(tmp_path, capsys):
    text = tmp_path / "verse.txt"
    text.write_text(TEXT)
    flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--max-iters", "4",
             "--eval-interval", "4", "--eval-iters", "1", "--batch-size", "2", "--warmup-iters", "1"]
    for name, extra in (("eager", ["--no-compile"]), ("compiled", [])):
        assert main(["train", "--model", "gpt", "--data", str(text), "--out", str(tmp_path / name), "--quiet",
                     *flags, *extra]) == 0
    eager, compiled = capsys.readouterr().out.splitlines()
    assert compiled.startswith("validation loss:") and compiled == eager
    assert read_config(tmp_path / "compiled").compile and not read_config(tmp_path / "eager").compile
