"""The transfer experiment in quick mode: MiniLM's frozen vectors beat models that learn from 100 labels;
the Fashion-MNIST CNN pre-trained on classes 0-4 learns classes 5-9 from few images; a run started again
in the same folder reads its measured trainings back."""

import json

import numpy as np
import pytest

from chainrule import experiments
from chainrule.experiments import transfer, transfer_vision
from chainrule.experiments.transfer import METHODS

pytest.importorskip("tokenizers")
pytest.importorskip("sklearn")


def test_minilm_needs_fewer_labels(quick_run):
    result, text, _ = quick_run("transfer")
    means = result.metrics["means"]
    assert set(means) == set(METHODS)
    frozen = means["MiniLM frozen + logistic"]
    assert frozen[100] >= 0.65  # one seed, 300 test sentences (measured 69.0%); the full run's goal is 72%
    assert frozen[100] > means["bag of words"][100] + 0.05
    assert frozen[100] > means["LSTM from scratch"][100] + 0.05
    said = result.metrics["sentences"]
    assert said["I love this movie"] > said["I hate this movie"]
    assert "Reading the table" in text and "character GPT" in text


def test_the_pretrained_cnn_learns_new_classes_from_few_images(quick_run):
    result, text, _ = quick_run("transfer")
    vision = result.metrics["vision"]
    assert set(vision) == {"fine-tuned", "from scratch"} and set(vision["fine-tuned"]) == {10, 50, 100}
    assert result.metrics["vision_source_accuracy"] >= 0.8  # classes 0-4 after one epoch of 5,000 images: 85%
    tuned, scratch = vision["fine-tuned"], vision["from scratch"]
    assert tuned[10] >= 0.8  # 60 steps on 50 shifted images of classes the CNN never saw: measured 85.8%
    assert scratch[100] >= scratch[10] + 0.03 and tuned[100] >= tuned[10]  # more images help both
    verdict = "met" if tuned[10] >= scratch[100] else "missed"
    assert f"{tuned[10]:.1%}, against {scratch[100]:.1%} for the same CNN from scratch with 100 per class " \
           f"(goal: at least as good: {verdict})" in text
    assert "Fashion-MNIST classes 5-9" in text and "images per class" in text


def test_a_second_run_reads_the_measured_trainings_back(quick_run, monkeypatch):
    result, _, out_dir = quick_run("transfer")

    def refuse(*args, **kwargs):
        raise AssertionError("trained again")
    for module, name in ((transfer, "bag_of_words"), (transfer, "lstm"), (transfer, "frozen"),
                         (transfer, "fine_tuned"), (transfer_vision, "run")):
        monkeypatch.setattr(module, name, refuse)
    again, _ = experiments.run("transfer", out_dir, quick=True, seed=0)
    assert again.metrics["means"] == result.metrics["means"]
    assert again.metrics["vision"] == result.metrics["vision"]


def test_a_vision_result_of_another_recipe_is_measured_again(quick_run, monkeypatch, tmp_path):
    _, _, out_dir = quick_run("transfer")
    kept = json.loads((out_dir / "measured.json").read_text())
    old = kept["records"]["vision|all|0"]
    old["recipe"] = {**old["recipe"], "shift": 0}
    (tmp_path / "measured.json").write_text(json.dumps(kept))
    new = {**old, "recipe": transfer_vision.RECIPE,
           "accuracy": {how: {k: [0.5] for k in by_count} for how, by_count in old["accuracy"].items()}}
    calls = []
    monkeypatch.setattr(transfer_vision, "run", lambda **kwargs: calls.append(kwargs) or new)
    again, _ = experiments.run("transfer", tmp_path, quick=True, seed=0)
    assert len(calls) == 1 and again.metrics["vision"]["fine-tuned"] == {10: 0.5, 50: 0.5, 100: 0.5}
    assert json.loads((tmp_path / "measured.json").read_text())["records"]["vision|all|0"]["recipe"] == \
        transfer_vision.RECIPE


def test_images_per_class_are_drawn_from_each_class():
    labels = np.repeat([3, 5, 7], 20)
    rows = transfer_vision.per_class(labels, 4, seed=1)
    assert len(set(rows)) == 12 and sorted(np.bincount(labels[rows])[[3, 5, 7]]) == [4, 4, 4]
    assert list(rows) == list(transfer_vision.per_class(labels, 4, seed=1))
    x = np.arange(60 * 784, dtype=np.float32).reshape(60, 784)
    images, renumbered = transfer_vision.classes(x, labels, (5, 7))
    assert images.shape == (40, 1, 28, 28) and sorted(set(renumbered)) == [0, 1]
    np.testing.assert_array_equal(images[0, 0, 0, :3], x[20, :3])


def test_shifted_moves_each_image_by_its_own_draw_within_the_limit():
    images = np.zeros((200, 1, 6, 6), np.float32)
    images[:, 0, 2, 3] = 1.0
    moved = transfer_vision.shifted(images, np.random.default_rng(0), pixels=2)
    assert moved.shape == images.shape and moved.dtype == np.float32
    assert np.all(moved.sum((1, 2, 3)) == 1.0)  # the lit pixel stays inside: no pixel lost, none made
    where = np.argwhere(moved[:, 0] == 1.0)[:, 1:] - [2, 3]
    assert np.abs(where).max() == 2 and len({tuple(w) for w in where}) == 25  # every move of -2..2 drawn
    edge = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    out = transfer_vision.shifted(edge, np.random.default_rng(3), pixels=1)
    down, right = np.argwhere(out[0, 0] == 14.0)[0] - [2, 2]  # pixel (2, 2) holds 14
    np.testing.assert_array_equal(out[0, 0], np.pad(edge[0, 0], 1)[1 - down:7 - down, 1 - right:7 - right])
