"""seeds: ten seeds of a small and a wide network."""


def test_wide_network_ends_lower_every_time_and_spreads_less(quick_run):
    metrics = quick_run("seeds")[0].metrics
    small, wide = "small 40-8-8-10", "wide 40-256-256-10"
    assert len(metrics["losses"][small]) == len(metrics["losses"][wide]) == 10
    assert metrics["loss"][wide]["max"] < metrics["loss"][small]["min"]
    assert metrics["accuracy"][wide]["min"] > metrics["accuracy"][small]["max"]
    assert metrics["loss"][wide]["range"] < metrics["loss"][small]["range"]
    assert metrics["accuracy"][wide]["range"] < metrics["accuracy"][small]["range"]
