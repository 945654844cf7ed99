"""Trajectories and learning-rate sequences against torch.optim."""

from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import optim
from chainrule.optim import lr_scheduler

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

STEPS = 25
SHAPES = [(3, 4), (5,)]

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.95), weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5)),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{'-'.join(k)}" for n, k in OPTIMIZERS])
def test_trajectory_matches_torch(name, kwargs):
    rng = np.random.default_rng(0)
    inits = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    curvature = [rng.uniform(0.5, 2.0, size=s).astype(np.float32) for s in SHAPES]
    noise = [rng.normal(size=(STEPS, *s)).astype(np.float32) for s in SHAPES]

    def grad(i, w, t):  # noisy quadratic, evaluated at each side's own iterate
        return curvature[i] * w + noise[i][t]

    ours = [SimpleNamespace(data=w.copy(), grad=None) for w in inits]
    theirs = [torch.tensor(w, requires_grad=True) for w in inits]
    # two groups, the second with half the learning rate
    our_opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": kwargs["lr"] / 2}],
                                   **kwargs)
    torch_opt = getattr(torch.optim, name)(
        [{"params": theirs[:1]}, {"params": theirs[1:], "lr": kwargs["lr"] / 2}], **kwargs)
    for t in range(STEPS):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            p.grad = SimpleNamespace(data=grad(i, p.data, t))
            q.grad = torch.from_numpy(grad(i, q.detach().numpy(), t))
        our_opt.step()
        torch_opt.step()
        for p, q in zip(ours, theirs):
            assert p.data.dtype == np.float32
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"step {t + 1}")


SCHEDULERS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 22], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.85)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=12)),
]


def two_group_optimizers():
    ours = optim.SGD([{"params": [SimpleNamespace(data=np.zeros(1), grad=None)]},
                      {"params": [SimpleNamespace(data=np.zeros(1), grad=None)], "lr": 0.05}], lr=0.1)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.05}], lr=0.1)
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", SCHEDULERS, ids=[f"{n}-{'-'.join(k)}" for n, k in SCHEDULERS])
def test_schedule_matches_torch(name, kwargs):
    our_opt, torch_opt = two_group_optimizers()
    ours = getattr(lr_scheduler, name)(our_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(torch_opt, **kwargs)
    for t in range(31):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-9, atol=1e-15,
                                   err_msg=f"epoch {t}")
        assert [g["lr"] for g in our_opt.param_groups] == ours.get_last_lr()
        our_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()


METRICS = [1.0, 0.8, 0.7, 0.7, 0.69, 0.71, 0.7, 0.6, 0.6, 0.61, 0.6, 0.65, 0.6, 0.5, 0.5,
           0.5, 0.5, 0.5, 0.45, 0.45, 0.46, 0.47, 0.45, 0.4, 0.4, 0.41, 0.42, 0.4, 0.4, 0.39]

PLATEAUS = [
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2, threshold=0.05),
    dict(patience=0, factor=0.3, threshold=0.02, threshold_mode="abs", min_lr=[0.01, 0.002]),
    dict(mode="max", patience=1, factor=0.7),
    dict(mode="max", patience=0, threshold=0.01, threshold_mode="abs", cooldown=1, min_lr=0.004),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_plateau_matches_torch(kwargs):
    our_opt, torch_opt = two_group_optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(our_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    seen = []
    for metric in metrics:
        ours.step(metric)
        theirs.step(metric)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        seen.append(ours.get_last_lr()[0])
    assert len(set(seen)) > 1  # the sequence does reduce
