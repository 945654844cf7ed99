"""softmax: the cross-entropy gradient is ŷ − y, the pushforward rule holds, the stable softmax survives."""


def test_gradient_is_prediction_minus_target_by_every_route(quick_run):
    metrics = quick_run("softmax")[0].metrics
    assert metrics["max_error_fused_vs_formula"] <= 1e-10
    assert metrics["max_error_composite_vs_formula"] <= 1e-10
    assert 0 < metrics["max_error_numeric_vs_formula"] <= 1e-7


def test_pushforward_rule_matches_jacfwd_and_jvp(quick_run):
    metrics = quick_run("softmax")[0].metrics
    assert metrics["max_error_pushforward_vs_jacfwd"] <= 1e-12
    assert metrics["max_error_jvp_vs_rule"] <= 1e-12


def test_naive_softmax_overflows_near_1000_and_stable_does_not(quick_run):
    result, text, _ = quick_run("softmax")
    metrics = result.metrics
    assert not metrics["naive_finite_at_1000"]
    assert abs(metrics["stable_sum_at_1000"] - 1) < 1e-12
    assert metrics["stable_grad_error_at_1000"] < 1e-12
    # exp overflows float64 past 709.78; the largest logit is the shift plus max z, and quick mode
    # samples the shifts 25 apart.
    assert 650 < metrics["naive_first_nan_shift"] < 735
    assert "| naive exp(z) / Σ exp(z) | nan |" in text
