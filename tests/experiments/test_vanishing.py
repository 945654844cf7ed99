"""vanishing: per-layer gradient norms of 20-layer MLPs at initialisation and after training."""

import numpy as np
import pytest


def test_sigmoid_gradients_vanish_towards_the_first_layer(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    norms = metrics["init_norms"]["sigmoid, Xavier"]
    assert len(norms) == 20
    assert metrics["init_ratio"]["sigmoid, Xavier"] < 1e-6
    assert np.all(np.diff(np.log(norms)) > 0)  # each layer closer to the output gets a larger gradient


def test_he_initialisation_keeps_layers_within_a_factor_of_ten(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    assert 0.1 < metrics["init_ratio"]["ReLU, He"] < 10
    norms = metrics["init_norms"]["ReLU, He"]
    assert max(norms) / min(norms) < 10


def test_naive_initialisation_leaves_every_layer_without_gradient(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    assert max(metrics["init_norms"]["ReLU, naive N(0, 0.01²)"]) < 1e-15


def test_only_the_flowing_networks_learn(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    for config in ("sigmoid, Xavier", "ReLU, naive N(0, 0.01²)"):
        assert abs(metrics["final_loss"][config] - np.log(10)) < 0.02, config  # still guessing uniformly
        assert metrics["test_accuracy"][config] < 0.15, config
    for config in ("tanh, Xavier", "ReLU, He", "residual ReLU"):
        assert metrics["final_loss"][config] < 0.8 * metrics["first_epoch_loss"][config], config


def test_the_residual_nets_zero_ratio_is_dead_relus_as_in_pytorch():
    # The residual ReLU net's first/last ratio drops to 0 during training (vanishing.png): PyTorch, from the
    # same weights on the same batches, loses the same and has a zero first-layer gradient at the same
    # steps, because no living first-layer unit fires for the batch. The network's doing, not the engine's.
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.data import load_dataset
    from chainrule.experiments import vanishing
    x, y = load_dataset("digits").x_train.astype(np.float64), load_dataset("digits").y_train
    ours = vanishing.deep_mlp("residual ReLU", 0)
    linears = [m for m in ours.modules() if isinstance(m, nn.Linear)]
    theirs = [torch.nn.Linear(m.weight.shape[1], m.weight.shape[0]).double() for m in linears]
    with torch.no_grad():
        for t, m in zip(theirs, linears):
            m.weight.data, m.bias.data = m.weight.data.astype(np.float64), m.bias.data.astype(np.float64)
            t.weight.copy_(torch.tensor(m.weight.data))
            t.bias.copy_(torch.tensor(m.bias.data))

    def torch_forward(h):
        for t in theirs[:-1]:
            h = h + torch.relu(t(h)) if t.in_features == t.out_features else torch.relu(t(h))
        return theirs[-1](h)
    ours_sgd = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    their_sgd = torch.optim.SGD([p for t in theirs for p in t.parameters()], lr=0.01, momentum=0.9)
    order = np.concatenate([np.random.default_rng(0).permutation(len(x)) for _ in range(3)])
    zero_ours, zero_theirs = [], []
    for step in range(45):
        rows = order[step * 64:(step + 1) * 64]
        ours_sgd.zero_grad()
        loss = cr.softmax_cross_entropy(ours(cr.tensor(x[rows])), y[rows]).mean()
        loss.backward()
        ours_sgd.step()
        their_sgd.zero_grad()
        their_loss = torch.nn.functional.cross_entropy(torch_forward(torch.tensor(x[rows])), torch.tensor(y[rows]))
        their_loss.backward()
        their_sgd.step()
        assert loss.item() == pytest.approx(their_loss.item(), rel=1e-9)
        if not linears[0].weight.grad.data.any():
            zero_ours.append(step)
        if not theirs[0].weight.grad.any():
            zero_theirs.append(step)
    assert zero_ours == zero_theirs and zero_ours  # [35, 41] with these weights and batches
    assert vanishing.first_layer_alive(ours, x) < 16  # most first-layer units dead


def test_the_report_counts_the_zero_gradient_steps_and_living_units(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    assert set(metrics["zero_first_layer_steps"]) == set(metrics["first_layer_alive"])
    assert 0 < metrics["first_layer_alive"]["ReLU, He"] <= 64
    assert any("not a bug" in note for note in quick_run("vanishing")[0].notes)
