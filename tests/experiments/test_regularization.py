"""regularization: 200 digits memorised, and every regulariser narrows the train/test loss gap."""


def test_unregularised_network_memorises_its_200_digits(quick_run):
    scores = quick_run("regularization")[0].metrics["scores"]["none"]
    assert scores["train_accuracy"] == 1.0
    assert scores["test_accuracy"] < 0.97
    assert scores["test_loss"] > 3 * scores["train_loss"]


def test_every_regulariser_narrows_the_loss_gap(quick_run):
    scores = quick_run("regularization")[0].metrics["scores"]
    assert len(scores) == 5
    for config, score in scores.items():
        assert score["test_accuracy"] > 0.8, config
        if config != "none":
            assert score["loss_gap"] < scores["none"]["loss_gap"], config
