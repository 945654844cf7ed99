"""Language-model runs: iterations on a small text, checkpoints, an exact resume, the command line
(`chainrule train --model gpt`, `chainrule generate`) and its errors."""

import json

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.errors import DataError
from chainrule.train import lm
from chainrule.train.checkpoint import load_checkpoint

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 30
SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_interval=5, eval_iters=2,
             final_eval_iters=2, warmup_iters=3, lr_decay_iters=12, lr=3e-3)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text(TEXT)
    return path


def test_schedule_warms_up_then_decays_to_the_minimum():
    config = lm.LMConfig()
    assert lm.lr_at(0, config) == pytest.approx(1e-3 / 101)
    assert lm.lr_at(100, config) == pytest.approx(1e-3)
    assert lm.lr_at(2000, config) == pytest.approx(1e-4)


def test_a_run_learns_writes_its_files_and_resumes_exactly(tmp_path, text_file):
    whole = lm.train_lm(lm.LMConfig(data=str(text_file), max_iters=12, **SMALL), tmp_path / "whole", log=None)
    assert whole["results"]["val_loss"] < np.log(len(set(TEXT)))  # better than uniform guessing
    history = json.loads((tmp_path / "whole" / "history.json").read_text())
    assert [entry["iteration"] for entry in history] == [0, 5, 10, 12]

    part = tmp_path / "part"
    lm.train_lm(lm.LMConfig(data=str(text_file), max_iters=7, **SMALL), part, log=None)
    config = json.loads((part / "config.json").read_text())
    (part / "config.json").write_text(json.dumps({**config, "max_iters": 12}))
    lm.train_lm(None, part, resume=True, log=None)
    for name, value in load_checkpoint(tmp_path / "whole" / lm.LAST)["model"].items():
        np.testing.assert_array_equal(load_checkpoint(part / lm.LAST)["model"][name], value, err_msg=name)


def test_command_line_trains_and_generates_reproducibly(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--max-iters", "4",
             "--eval-interval", "4", "--eval-iters", "1", "--batch-size", "2"]
    assert main(["train", "--model", "gpt", "--data", str(text_file), "--out", str(out), "--quiet", *flags]) == 0
    assert "validation loss:" in capsys.readouterr().out
    assert main(["generate", str(out), "--prompt", "All:", "--tokens", "25", "--seed", "4", "--top-k", "5"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("All:") and len(first) == len("All:") + 25 + 1
    main(["generate", str(out), "--prompt", "All:", "--tokens", "25", "--seed", "4", "--top-k", "5"])
    assert capsys.readouterr().out == first


def test_bad_prompts_and_flags_are_refused_with_clear_errors(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    lm.train_lm(lm.LMConfig(data=str(text_file), max_iters=1, **SMALL), out, log=None)
    with pytest.raises(DataError, match="outside the vocabulary.*'EMOR'"):
        lm.generate_text(out, "ROMEO:")
    with pytest.raises(DataError, match="20 characters, more than the model's context of 16"):
        lm.generate_text(out, "a" * 20)
    assert main(["train", "--model", "gpt", "--epochs", "3", "--out", str(tmp_path / "x")]) == 1
    assert "not --epochs" in capsys.readouterr().err
    assert main(["train", "--model", "gpt", "--n-head", "3", "--out", str(tmp_path / "y")]) == 1
    assert "not divisible by n_head 3" in capsys.readouterr().err
