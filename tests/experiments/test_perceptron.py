"""perceptron: the rule learns AND and OR, fails on XOR; backpropagation solves XOR."""

import numpy as np

from chainrule.experiments.perceptron import CORNERS, GATES, Perceptron


def test_perceptron_rule_fails_on_xor_while_the_mlp_solves_it(quick_run):
    metrics = quick_run("perceptron")[0].metrics
    assert metrics["perceptron_accuracy"]["AND"] == metrics["perceptron_accuracy"]["OR"] == 1.0
    assert metrics["perceptron_converged"] == {"AND": True, "OR": True, "XOR": False}
    assert metrics["perceptron_accuracy"]["XOR"] <= 0.75
    assert metrics["mlp_xor_accuracy"] == 1.0
    assert metrics["noisy_xor_accuracy"]["mlp"] > 0.9 > 0.7 > metrics["noisy_xor_accuracy"]["perceptron"]


def test_no_perceptron_state_ever_gets_xor_right_and_the_rule_only_moves_on_mistakes():
    perceptron = Perceptron(2)
    accuracies = []
    for _ in range(50):
        perceptron.fit(CORNERS, GATES["XOR"], epochs=1)
        accuracies.append(np.mean(perceptron.predict(CORNERS) == GATES["XOR"]))
    assert max(accuracies) <= 0.75
    converged = Perceptron(2)
    mistakes = converged.fit(CORNERS, GATES["OR"], epochs=50)
    w, b = converged.w.copy(), converged.b
    assert converged.fit(CORNERS, GATES["OR"], epochs=5) == [0]
    assert np.array_equal(converged.w, w) and converged.b == b and mistakes[-1] == 0
