"""attention: unscaled scores saturate the softmax and starve the gradient as the width grows; the
causal mask holds; the report shows a trained GPT's heads."""


def test_unscaled_scores_saturate_and_the_gradient_vanishes_with_width(quick_run):
    metrics = quick_run("attention")[0].metrics
    assert metrics["peak_weight_unscaled_1024"] > 0.9 > 0.5 > metrics["peak_weight_scaled_1024"]
    assert metrics["grad_norm_unscaled_1024"] < 0.1 * metrics["grad_norm_scaled_1024"]
    assert metrics["grad_norm_unscaled_4"] > 0.1 * metrics["grad_norm_scaled_4"]


def test_causal_mask_zeroes_the_future_and_rows_sum_to_one(quick_run):
    result, text, _ = quick_run("attention")
    assert result.metrics["causal_weights_above_diagonal"] == 0
    assert result.metrics["rows_sum_to_one"] < 1e-5
    assert "how far back each head looks" in text
