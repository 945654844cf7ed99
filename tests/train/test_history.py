"""History files, learning curves, the metric monitor."""

import csv
import json
import math

import pytest

from chainrule.train import EarlyStopping, History, Monitor, plot_history

RECORDS = [
    {"epoch": 1, "loss": 0.9, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.5, "lr": 0.1},
    {"epoch": 2, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.7, "val_accuracy": 0.75, "lr": 0.05},
]


def test_history_round_trips_through_json(tmp_path):
    History(RECORDS).to_json(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text()) == RECORDS
    assert History.from_json(tmp_path / "h.json").records == RECORDS


def test_history_csv_has_one_row_per_epoch_and_leaves_lists_to_json(tmp_path):
    history = History(RECORDS)
    history.append({"epoch": 3, "loss": 0.4, "per_class": [1.0, 0.5]})
    history.to_csv(tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [row["loss"] for row in rows] == ["0.9", "0.5", "0.4"]
    assert rows[2]["val_loss"] == ""


@pytest.mark.parametrize("records, panels", [(RECORDS, 2), ([{"epoch": 1, "loss": 0.3, "rmse": 0.5}], 2),
                                             ([{"epoch": 1, "loss": 0.3}], 1)])
def test_learning_curves_draw_one_panel_per_metric(tmp_path, records, panels):
    figure = plot_history(History(records), tmp_path / "curves.png", title="run", best_epoch=1)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == panels
    labels = [line.get_label() for line in figure.axes[0].lines]
    has_val = "val_loss" in records[0]
    assert labels == ["training"] + ["validation"] * has_val + ["best epoch"]


def test_monitor_mode_follows_the_metric_name_and_min_delta():
    assert Monitor("val_accuracy").mode == "max" and Monitor("val_loss").mode == "min"
    monitor = Monitor("loss", min_delta=0.1)
    values = [1.0, 0.95, 0.85, 0.7]
    improved = [monitor.update(epoch, {"loss": value}) for epoch, value in enumerate(values, 1)]
    assert improved == [True, False, True, True]
    assert (monitor.best, monitor.best_epoch) == (0.7, 4)


def test_monitor_never_takes_a_nan_for_the_best():
    monitor = Monitor("val_loss")
    assert not monitor.update(1, {"val_loss": math.nan})
    assert monitor.update(2, {"val_loss": 3.0}) and monitor.best == 3.0


@pytest.mark.parametrize("settings, message", [
    ({"patience": 0}, "patience must be a positive integer, not 0"),
    ({"mode": "up"}, "mode must be one of"),
    ({"min_delta": -1}, "min_delta must be non-negative"),
])
def test_early_stopping_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**settings)


@pytest.mark.parametrize("child", [True, False])
def test_the_painter_draws_in_a_child_or_here(tmp_path, monkeypatch, child):
    from chainrule.train.curves import CurvesPainter
    if not child:  # no child can start: drawn in this process on leaving
        monkeypatch.setattr("sys.executable", str(tmp_path / "no-python"))
    History(RECORDS).to_json(tmp_path / "history.json")
    with CurvesPainter() as painter:
        assert (painter.child is not None) == child
        painter.plot(tmp_path / "history.json", tmp_path / "curves.png", title="run", best_epoch=1)
    assert painter.child is None
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_painter_ends_its_child_on_an_error(tmp_path):
    from chainrule.train.curves import CurvesPainter
    with pytest.raises(KeyError), CurvesPainter() as painter:
        child = painter.child
        raise KeyError("the run failed")
    assert child.returncode == 0 and not (tmp_path / "curves.png").exists()
