"""Learning-rate schedules from their closed forms, resuming, and bad arguments (no PyTorch needed)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import optim
from chainrule.optim import lr_scheduler as S


def make_optimizer(lrs=(1.0,)):
    return optim.SGD([{"params": [SimpleNamespace(data=np.zeros(1), grad=None)], "lr": lr} for lr in lrs])


def lrs(scheduler, steps):
    out = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


def test_step_lr():
    opt = make_optimizer((1.0, 0.1))
    got = lrs(S.StepLR(opt, step_size=3, gamma=0.5), 7)
    assert [x[0] for x in got] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert got[-1][1] == pytest.approx(0.025)
    assert opt.param_groups[1]["lr"] == got[-1][1] and opt.param_groups[1]["initial_lr"] == 0.1


def test_multistep_lr_counts_repeated_milestones():
    got = lrs(S.MultiStepLR(make_optimizer(), milestones=[4, 2, 4], gamma=0.1), 5)
    np.testing.assert_allclose([x[0] for x in got], [1, 1, 0.1, 0.1, 0.001, 0.001])


def test_exponential_lr():
    got = lrs(S.ExponentialLR(make_optimizer(), gamma=0.9), 4)
    np.testing.assert_allclose([x[0] for x in got], 0.9 ** np.arange(5))


def test_cosine_annealing_lr():
    got = lrs(S.CosineAnnealingLR(make_optimizer(), T_max=4, eta_min=0.2), 8)
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(9)]
    np.testing.assert_allclose([x[0] for x in got], expected)
    assert got[4][0] == pytest.approx(0.2) and got[8][0] == pytest.approx(1.0)


def test_linear_warmup():
    got = lrs(S.LinearLR(make_optimizer(), start_factor=0.25, total_iters=3), 5)
    np.testing.assert_allclose([x[0] for x in got], [0.25, 0.5, 0.75, 1, 1, 1])


def test_reduce_lr_on_plateau():
    opt = make_optimizer((1.0, 0.01))
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=1, min_lr=[0.0, 0.005])
    seen = []
    for metric in [5, 4, 4, 4, 4, 4, 4, 3]:
        sched.step(metric)
        seen.append(sched.get_last_lr())
    # two epochs without improvement > patience 1 -> reduce, then one cooldown epoch
    assert [x[0] for x in seen] == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert [x[1] for x in seen] == pytest.approx([0.01] * 3 + [0.005] * 5)


def test_reduce_lr_on_plateau_max_mode_abs_threshold():
    sched = S.ReduceLROnPlateau(make_optimizer(), mode="max", patience=0, threshold=0.5,
                                threshold_mode="abs", factor=0.5)
    for metric in [1.0, 1.4, 2.0]:  # 1.4 is not better than 1.0 + 0.5
        sched.step(metric)
    assert sched.get_last_lr() == [0.5]
    assert sched.best == 2.0


def closed_form_schedulers():
    return [
        lambda o: S.StepLR(o, 3, gamma=0.5),
        lambda o: S.MultiStepLR(o, [2, 5, 9]),
        lambda o: S.ExponentialLR(o, 0.8),
        lambda o: S.CosineAnnealingLR(o, 7, eta_min=0.01),
        lambda o: S.LinearLR(o, start_factor=0.1, total_iters=6),
    ]


@pytest.mark.parametrize("make", closed_form_schedulers())
@pytest.mark.parametrize("optimizer_first", [True, False])
def test_resuming_is_exact(make, optimizer_first):
    opt = make_optimizer((0.5, 0.1))
    straight = lrs(make(opt), 12)

    opt = make_optimizer((0.5, 0.1))
    sched = make(opt)
    for _ in range(5):
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()

    opt2 = make_optimizer((0.3, 0.3))
    if optimizer_first:
        opt2.load_state_dict(saved_opt)
        sched2 = make(opt2)
    else:
        sched2 = make(opt2)
        opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert [g["lr"] for g in opt2.param_groups] == straight[5]
    assert sched2.last_epoch == 5
    assert lrs(sched2, 7) == straight[5:]


def test_resuming_with_last_epoch():
    opt = make_optimizer((0.5,))
    S.StepLR(opt, 2, gamma=0.5)
    resumed = S.StepLR(opt, 2, gamma=0.5, last_epoch=3)
    assert resumed.last_epoch == 4 and resumed.get_last_lr() == [0.125]
    with pytest.raises(ValueError, match="initial_lr"):
        S.StepLR(make_optimizer(), 2, last_epoch=3)


def test_plateau_resumes():
    opt = make_optimizer()
    sched = S.ReduceLROnPlateau(opt, patience=2)
    for metric in [3, 2, 2, 2]:
        sched.step(metric)
    sched2 = S.ReduceLROnPlateau(make_optimizer(), patience=2)
    sched2.load_state_dict(sched.state_dict())
    sched.step(2)
    sched2.step(2)
    assert sched.get_last_lr() == sched2.get_last_lr() == [0.1]


def test_load_state_dict_of_another_scheduler():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="does not come from a StepLR"):
        S.StepLR(opt, 2).load_state_dict(S.ExponentialLR(make_optimizer(), 0.5).state_dict())


BAD = [
    (lambda o: S.StepLR(o, step_size=0), ["StepLR", "step_size", "0", "positive integer"]),
    (lambda o: S.StepLR(o, step_size=2.5), ["step_size", "2.5", "integer"]),
    (lambda o: S.StepLR(o, 2, gamma=0), ["gamma", "0", "> 0"]),
    (lambda o: S.MultiStepLR(o, [1, -2]), ["MultiStepLR", "milestones", "-2"]),
    (lambda o: S.MultiStepLR(o, [1], gamma=-0.1), ["gamma", "-0.1"]),
    (lambda o: S.ExponentialLR(o, gamma=0.0), ["ExponentialLR", "gamma", "0.0"]),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), ["T_max", "0"]),
    (lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=-1), ["eta_min", "-1"]),
    (lambda o: S.LinearLR(o, start_factor=0), ["start_factor", "0", "in (0, 1]"]),
    (lambda o: S.LinearLR(o, end_factor=1.5), ["end_factor", "1.5", "in [0, 1]"]),
    (lambda o: S.LinearLR(o, total_iters=0), ["total_iters", "0"]),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ["mode", "'avg'", "'min' or 'max'"]),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ["threshold_mode", "'pct'"]),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ["factor", "1.0", "in [0, 1)"]),
    (lambda o: S.ReduceLROnPlateau(o, patience=-1), ["patience", "-1"]),
    (lambda o: S.ReduceLROnPlateau(o, cooldown=-1), ["cooldown", "-1"]),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), ["min_lr", "one value per parameter group"]),
]


@pytest.mark.parametrize("make, words", BAD)
def test_bad_arguments_are_named(make, words):
    with pytest.raises(ValueError) as info:
        make(make_optimizer())
    for word in words:
        assert word in str(info.value)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="expected an optimizer"):
        S.StepLR([1.0], 2)
