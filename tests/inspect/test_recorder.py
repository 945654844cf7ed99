"""The run logs chainrule view reads: every step's loss, the gradient flow every N steps, resumes, and
TensorBoard event files."""

import json
import struct

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.inspect import gradient_flow
from chainrule.inspect.recorder import FLOW_LOG, STEPS_LOG, RunRecorder, flow_record, read_log, truncate_log
from chainrule.train import Trainer


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def _trainer(callbacks, tmp_path=None):
    model = nn.MLP([4, 16, 16, 2], seed=0)
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batch_size=10,
                   progress=False, callbacks=callbacks, checkpoint_dir=tmp_path)


def test_logs_every_step_and_the_flow_every_n_steps(tmp_path):
    recorder = RunRecorder(tmp_path, every=4)
    trainer = _trainer([recorder])
    trainer.fit(_data(), epochs=2)
    steps = read_log(tmp_path / STEPS_LOG)
    assert [row["step"] for row in steps] == list(range(1, 13))
    assert [row["epoch"] for row in steps] == [1] * 6 + [2] * 6
    assert all(row["lr"] == 0.1 for row in steps)
    per_epoch = [np.mean([row["loss"] for row in steps if row["epoch"] == epoch]) for epoch in (1, 2)]
    assert per_epoch == pytest.approx(trainer.history["loss"], rel=1e-6)
    flow = read_log(tmp_path / FLOW_LOG)
    assert [row["step"] for row in flow] == [1, 4, 8, 12]
    assert [layer["name"] for layer in flow[-1]["layers"]] == ["0.weight", "2.weight", "4.weight"]
    assert recorder.seconds > 0


def test_a_flow_record_is_the_gradient_flow_report(tmp_path):
    model = nn.MLP([4, 16, 2], seed=0)
    x, y = _data()
    nn.CrossEntropyLoss()(model(x), y).backward()
    record = flow_record(model, x, 7, 3)
    report = gradient_flow(model, inputs=x)
    weights = [row for row in report.rows if len(row["shape"]) == 2]
    assert record["step"] == 7 and record["epoch"] == 3
    assert [layer["grad_norm"] for layer in record["layers"]] == [row["grad_norm"] for row in weights]
    assert [layer["dead"] for layer in record["layers"]] == [row["dead_fraction"] for row in weights]
    assert record["layers"][0]["dead"] is not None


def test_a_line_cut_short_is_skipped_and_a_resume_cuts_the_logs_back(tmp_path):
    path = tmp_path / STEPS_LOG
    lines = "".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 11))
    path.write_text(lines + '{"step": 11, "lo')  # the last line cut short by a kill
    assert [row["step"] for row in read_log(path)] == list(range(1, 11))
    assert [row["step"] for row in read_log(path, since=8)] == [9, 10]
    truncate_log(path, 6)
    assert [row["step"] for row in read_log(path)] == list(range(1, 7))
    truncate_log(path, 0)
    assert not path.exists()


def test_a_resumed_run_logs_each_step_once(tmp_path):
    data = _data()
    _trainer([RunRecorder(tmp_path, every=5)], tmp_path).fit(data, epochs=1)
    (tmp_path / STEPS_LOG).open("a").write(json.dumps({"step": 7, "loss": 9.0}) + "\n")  # killed after this
    _trainer([RunRecorder(tmp_path, every=5)], tmp_path).fit(data, epochs=2, resume=True)
    assert [row["step"] for row in read_log(tmp_path / STEPS_LOG)] == list(range(1, 13))
    assert [row["step"] for row in read_log(tmp_path / FLOW_LOG)] == [1, 5, 10]


def test_refuses_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="every must be a non-negative int"):
        RunRecorder(tmp_path, every=-1)
    with pytest.raises(ValueError, match="probe must be a positive int"):
        RunRecorder(tmp_path, probe=0)


def _events(directory):
    """The Event protos of the TensorBoard files in ``directory`` (TFRecord: length, CRC, data, CRC)."""
    from tensorboardX.proto.event_pb2 import Event
    events = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            events.append(event)
            at += 12 + length + 4
    return events


def test_tensorboard_files_hold_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboardX")
    from chainrule.inspect.tensorboard import TensorBoardCallback
    trainer = _trainer([TensorBoardCallback(tmp_path / "tb", every=4)])
    trainer.fit(_data(), epochs=2)
    values = {}
    for event in _events(tmp_path / "tb"):
        for value in event.summary.value:
            values.setdefault(value.tag, []).append((event.step, value))
    losses = [(step, value.simple_value) for step, value in values["step/loss"]]
    assert [step for step, _ in losses] == list(range(1, 13))
    assert [step for step, _ in values["record/loss"]] == [6, 12]
    assert values["record/loss"][0][1].simple_value == pytest.approx(trainer.history["loss"][0], rel=1e-6)
    histogram = values["weights/0.weight"][-1][1].histo
    assert [step for step, _ in values["gradients/0.weight"]] == [1, 4, 8, 12]
    assert histogram.num == 16 * 4
    assert histogram.sum == pytest.approx(float(trainer.model.state_dict()["0.weight"].sum()), rel=1e-5)
