"""learning-rate: too large diverges, too small crawls, a decaying schedule does better."""


def test_too_large_diverges_and_too_small_crawls(quick_run):
    metrics = quick_run("learning-rate")[0].metrics
    assert metrics["diverged_at"]["too large: 10"] is not None
    assert all(at is None for config, at in metrics["diverged_at"].items() if config != "too large: 10")
    crawl = metrics["final_loss"]["too small: 0.001"]
    assert crawl > 0.9 * metrics["initial_loss"]["too small: 0.001"]
    assert crawl > 2 * metrics["final_loss"]["constant 0.1"]


def test_decaying_schedule_beats_every_constant_rate(quick_run):
    metrics = quick_run("learning-rate")[0].metrics
    for constant in ("constant 1", "constant 0.1"):
        assert metrics["final_loss"]["cosine from 1 to 0"] < metrics["final_loss"][constant]
        assert metrics["test_accuracy"]["cosine from 1 to 0"] > metrics["test_accuracy"][constant]
