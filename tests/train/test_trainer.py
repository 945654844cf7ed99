"""The training loop: determinism, resume, early stopping, schedules, clipping, callbacks, divergence."""

import io
import math

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.data import TensorDataset
from chainrule.train import (Callback, DivergedError, EarlyStopping, Trainer, evaluate, fit,
                             load_checkpoint)


def blobs(n=120, seed=0):
    """Three Gaussian blobs in 4-D: an easy classification problem."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + 3 * np.eye(4)[y]
    return x.astype(np.float32), y.astype(np.int64)


def noise(n=60, seed=1):
    """Random features with random labels: only memorisation lowers the training loss."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def make_trainer(checkpoint_dir=None, dropout=0.2, progress=False, **options):
    model = nn.MLP([4, 16, 16, 3], dropout=dropout, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
    return Trainer(model, nn.CrossEntropyLoss(), optimizer, batch_size=16, scheduler=scheduler,
                   progress=progress, checkpoint_dir=checkpoint_dir, **options)


def without_time(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history.records]


def test_fit_learns_and_records_one_entry_per_epoch():
    trainer = make_trainer()
    history = trainer.fit(blobs(), blobs(60, seed=1), epochs=5)
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert history.metrics() == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert history["loss"][-1] < history["loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.9
    np.testing.assert_allclose(history["lr"], 0.05 * 0.8 ** np.arange(5), rtol=1e-12)
    assert trainer.epoch == 5 and trainer.step == 5 * math.ceil(120 / 16)


def test_same_seed_gives_identical_weights_and_history():
    first, second = make_trainer(), make_trainer()
    history_a = first.fit(blobs(), blobs(60, seed=1), epochs=3)
    history_b = second.fit(blobs(), blobs(60, seed=1), epochs=3)
    assert without_time(history_a) == without_time(history_b)
    for name, value in first.model.state_dict().items():
        np.testing.assert_array_equal(value, second.model.state_dict()[name])


def test_a_second_fit_continues_the_first():
    once, twice = make_trainer(), make_trainer()
    once.fit(blobs(), epochs=4)
    twice.fit(blobs(), epochs=1)
    twice.fit(blobs(), epochs=4)
    assert without_time(once.history) == without_time(twice.history)
    for name, value in once.model.state_dict().items():
        np.testing.assert_array_equal(twice.model.state_dict()[name], value)


def test_another_seed_shuffles_differently():
    a, b = make_trainer(seed=0), make_trainer(seed=1)
    a.fit(blobs(), epochs=1)
    b.fit(blobs(), epochs=1)
    assert not np.array_equal(a.model.state_dict()["0.weight"], b.model.state_dict()["0.weight"])


@pytest.mark.parametrize("scheduler", ["step", "plateau"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, scheduler):
    def trainer(directory):
        model = nn.MLP([4, 16, 16, 3], dropout=0.2, seed=0)
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        schedule = (optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8) if scheduler == "step"
                    else optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0))
        return Trainer(model, nn.CrossEntropyLoss(), optimizer, batch_size=16, scheduler=schedule,
                       early_stopping=EarlyStopping("val_loss", patience=10), progress=False,
                       checkpoint_dir=directory)

    data, val = blobs(), noise()
    straight = trainer(tmp_path / "straight")
    straight.fit(data, val, epochs=4)
    trainer(tmp_path / "split").fit(data, val, epochs=2)
    resumed = trainer(tmp_path / "split")  # a fresh process would build everything anew
    resumed.fit(data, val, epochs=4, resume=True)

    assert resumed.epoch == 4 and resumed.step == straight.step
    assert without_time(resumed.history) == without_time(straight.history)
    for name, value in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)
    for name in ("last.safetensors", "best.safetensors"):
        a, b = load_checkpoint(tmp_path / "straight" / name), load_checkpoint(tmp_path / "split" / name)
        assert a["epoch"] == b["epoch"] and a["random"] == b["random"] and a["monitor"] == b["monitor"]
        for key, value in a["optimizer"]["state"][0].items():
            np.testing.assert_array_equal(b["optimizer"]["state"][0][key], value)


def test_resume_without_any_checkpoint_starts_from_the_beginning(tmp_path):
    lines = []
    resumed = make_trainer(tmp_path / "a", log=lines.append).fit(blobs(), epochs=2, resume=True)
    straight = make_trainer(tmp_path / "b").fit(blobs(), epochs=2)
    assert lines == [f"no checkpoint in {tmp_path / 'a'} yet: training from the beginning"]
    assert resumed["loss"] == straight["loss"]


def test_resume_after_a_kill_during_the_first_last_checkpoint_uses_the_best_one(tmp_path, monkeypatch):
    from chainrule import serialization
    straight = make_trainer(tmp_path / "straight")
    straight.fit(blobs(), epochs=3)
    write, calls = serialization._write, []

    def killed(file, payload):  # best (1st write) then last (2nd): the kill cuts the 2nd short
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        write(file, payload)

    monkeypatch.setattr(serialization, "_write", killed)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path / "killed").fit(blobs(), epochs=3)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["best.safetensors"]
    lines = []
    resumed = make_trainer(tmp_path / "killed", log=lines.append)
    resumed.fit(blobs(), epochs=3, resume=True)
    assert lines[0] == ("resumed from best.safetensors at epoch 1 (last.safetensors was missing: a kill cut its "
                        "first write short)")
    for name, value in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    trainer = make_trainer(tmp_path, dropout=0.0, early_stopping=EarlyStopping("val_loss", patience=2))
    history = trainer.fit(noise(), noise(seed=2), epochs=50)
    best = trainer.monitor.best_epoch
    assert len(history) == best + 2 < 50
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    saved = load_checkpoint(tmp_path / "best.safetensors")
    assert saved["epoch"] == best
    for name, value in saved["model"].items():
        np.testing.assert_array_equal(trainer.model.state_dict()[name], value)


def test_early_stopping_on_a_metric_the_run_lacks_lists_the_choices():
    trainer = make_trainer(early_stopping=EarlyStopping("val_accuracy", patience=2))
    with pytest.raises(ValueError, match=r"val_accuracy.*\['loss', 'accuracy'\]"):
        trainer.fit(blobs(), epochs=2)


def test_plateau_schedule_is_fed_the_validation_loss():
    class Recording(optim.lr_scheduler.ReduceLROnPlateau):
        seen = []

        def step(self, metric):
            self.seen.append(metric)
            super().step(metric)

    model = nn.MLP([4, 8, 3], seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, blobs(), noise(), epochs=3, batch_size=30,
                  scheduler=Recording(optimizer, patience=0), progress=False)
    assert Recording.seen == history["val_loss"]


def test_callbacks_see_every_step_with_gradients_and_can_stop_training():
    class Recorder(Callback):
        def __init__(self):
            self.events, self.grad_norms = [], []

        def on_train_begin(self, trainer):
            self.events.append("begin")

        def on_batch_end(self, trainer, step, logs):
            self.events.append(("batch", step, logs["epoch"], logs["batch_size"]))
            grads = [p.grad.data for p in trainer.model.parameters()]
            self.grad_norms.append(math.sqrt(sum(float((g ** 2).sum()) for g in grads)))

        def on_epoch_end(self, trainer, epoch, logs):
            self.events.append(("epoch", epoch, trainer.history.records[-1] is not None))
            trainer.stop_training = epoch == 2

        def on_train_end(self, trainer):
            self.events.append("end")

    recorder = Recorder()
    trainer = make_trainer(callbacks=[recorder], clip_grad_norm=0.5)
    trainer.fit(blobs(40), epochs=5)
    batches = [("batch", 1, 1, 16), ("batch", 2, 1, 16), ("batch", 3, 1, 8)]
    second = [("batch", s + 3, 2, n) for (_, s, _, n) in batches]
    assert recorder.events == ["begin", *batches, ("epoch", 1, True), *second, ("epoch", 2, True), "end"]
    assert max(recorder.grad_norms) <= 0.5 + 1e-5


def test_a_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_checkpoint(tmp_path):
    class NanAtStep(nn.CrossEntropyLoss):
        calls = 0

        def forward(self, input, target):
            NanAtStep.calls += 1
            loss = super().forward(input, target)
            return loss * float("nan") if NanAtStep.calls == 10 else loss

    model = nn.MLP([4, 8, 3], seed=0)
    trainer = Trainer(model, NanAtStep(), optim.SGD(model.parameters(), lr=0.1), batch_size=30,
                      progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(DivergedError, match=r"epoch 3, step 10.*last.safetensors \(epoch 2\)"):
        trainer.fit(blobs(), epochs=5)  # 4 steps per epoch: the 10th is the 2nd of epoch 3
    assert load_checkpoint(tmp_path / "last.safetensors")["epoch"] == 2


def test_regression_reports_rmse():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(100, 1)).astype(np.float32)
    y = (2 * x + 0.5).astype(np.float32)
    model = nn.MLP([1, 1], seed=0)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), (x, y),
                  epochs=30, batch_size=10, progress=False)
    assert history.metrics()[:5] == ["epoch", "loss", "rmse", "val_loss", "val_rmse"]
    scores = evaluate(model, nn.MSELoss(), (x, y))
    assert scores["rmse"] == pytest.approx(math.sqrt(scores["loss"]), rel=1e-5)
    assert scores["rmse"] < 0.01


def test_evaluate_reports_per_class_accuracy():
    model = nn.MLP([4, 16, 3], seed=0)
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), blobs(), epochs=10,
        batch_size=20, progress=False)
    x, y = blobs(90, seed=3)
    scores = evaluate(model, nn.CrossEntropyLoss(), TensorDataset(x, y), batch_size=32)
    predicted = model(x).data.argmax(axis=1)
    assert scores["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert scores["per_class_accuracy"] == pytest.approx([np.mean(predicted[y == c] == c) for c in range(3)])


def test_progress_bar_shows_loss_accuracy_and_speed_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    make_trainer(progress=True).fit(blobs(), blobs(30, seed=1), epochs=1)
    text = screen.getvalue()
    assert "epoch 1/1" in text and "loss=" in text and "acc=" in text and "val_acc=" in text
    assert "samples/s" in text


def test_progress_bar_is_quiet_off_a_terminal(capsys):
    make_trainer(progress=True).fit(blobs(), epochs=1)
    assert capsys.readouterr() == ("", "")


def test_epoch_accuracy_counts_hits_of_tensor_or_array_targets():
    from chainrule.core.tensor import Tensor
    from chainrule.train.metrics import EpochMetrics
    outputs = np.array([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0]])
    totals = EpochMetrics("classification")
    totals.update(0.5, outputs, Tensor(np.array([1, 0, 0])))
    totals.update(0.2, outputs[:1], np.array([0]))
    assert totals.result() == {"loss": pytest.approx((1.5 + 0.2) / 4), "accuracy": 0.5}
