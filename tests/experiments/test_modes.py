"""modes: reverse mode wins for R^n → R, forward mode for R → R^m, and both give the same Jacobian."""


def test_reverse_mode_is_cheaper_for_many_inputs_and_forward_for_many_outputs(quick_run):
    metrics = quick_run("modes")[0].metrics
    assert metrics["largest_size"] == 64
    # 64 JVPs against one VJP, and 64 VJPs against one JVP: a margin of 5 leaves room for noise.
    assert metrics["rev_speedup_scalar_output"] > 5
    assert metrics["fwd_speedup_vector_output"] > 5


def test_both_modes_give_the_same_jacobian(quick_run):
    assert quick_run("modes")[0].metrics["max_jacobian_disagreement"] < 1e-12


def test_one_pass_costs_a_small_multiple_of_an_evaluation(quick_run):
    metrics = quick_run("modes")[0].metrics
    assert 1 < metrics["vjp_over_eval"] < 20
    assert 1 < metrics["jvp_over_eval"] < 20
