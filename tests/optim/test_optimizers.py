"""Optimiser updates checked against formulas computed by hand (no PyTorch needed)."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import optim
from chainrule.optim import functional as F


def param(values, dtype=np.float64):
    return SimpleNamespace(data=np.array(values, dtype=dtype), grad=None)


def set_grad(p, values):
    p.grad = SimpleNamespace(data=np.asarray(values))


def run(opt, params, steps, grad_fn):
    """``steps`` steps with gradient ``grad_fn(w, t)`` for each parameter; returns the trajectory."""
    path = []
    for t in range(steps):
        for p in params:
            set_grad(p, grad_fn(p.data, t))
        opt.step()
        path.append([p.data.copy() for p in params])
    return path


def quadratic(w, t):
    return 2 * w  # gradient of |w|^2


# -- SGD --------------------------------------------------------------------------------------------

def test_sgd_momentum_matches_the_lecture_by_hand():
    w = param([1.0])
    path = run(optim.SGD([w], lr=0.1, momentum=0.9), [w], 3, quadratic)
    # v = 0.9 v + g;  w = w - 0.1 v, with g = 2w: v = 2, 3.4, 3.98
    np.testing.assert_allclose([x[0][0] for x in path], [0.8, 0.46, 0.062], rtol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_sgd_momentum_matches_the_lecture_formula(weight_decay):
    tau, alpha, lam = 0.9, weight_decay, 0.05
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 2))
    grads = rng.normal(size=(10, 3, 2))
    w = param(w0)
    path = run(optim.SGD([w], lr=lam, momentum=tau, weight_decay=alpha), [w], 10, lambda x, t: grads[t])
    ref, v = w0.copy(), np.zeros_like(w0)
    for t in range(10):
        v = tau * v + grads[t] + alpha * ref
        ref = ref - lam * v
        np.testing.assert_allclose(path[t][0], ref, rtol=1e-12, atol=1e-14)


def test_sgd_nesterov_by_hand():
    w = param([1.0])
    path = run(optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True), [w], 2, quadratic)
    # v = 0.9 v + g;  w = w - 0.1 (g + 0.9 v): (g, v) = (2, 2) then (1.24, 3.04)
    np.testing.assert_allclose([x[0][0] for x in path], [0.62, 0.2224], rtol=1e-12)


def test_sgd_weight_decay_by_hand():
    w = param([1.0, -4.0])
    path = run(optim.SGD([w], lr=0.1, weight_decay=0.5), [w], 2, quadratic)
    # g + 0.5 w = 2.5 w, so each step multiplies w by 1 - 0.1 * 2.5 = 0.75
    np.testing.assert_allclose(path[0][0], [0.75, -3.0], rtol=1e-12)
    np.testing.assert_allclose(path[1][0], [0.5625, -2.25], rtol=1e-12)


def test_sgd_dampening_does_not_touch_the_first_buffer():
    w = param([0.0])
    path = run(optim.SGD([w], lr=1.0, momentum=0.5, dampening=0.5), [w], 2, lambda x, t: np.array([1.0]))
    # buf = g = 1, then 0.5 * 1 + (1 - 0.5) * 1 = 1
    np.testing.assert_allclose([x[0][0] for x in path], [-1.0, -2.0])


# -- Adam and AdamW ----------------------------------------------------------------------------------

def test_adam_first_step_is_lr_times_sign():
    w = param([0.5, 0.5, 0.5, 0.5])
    g = np.array([3.0, -0.01, 1e-3, -250.0])
    run(optim.Adam([w], lr=0.01), [w], 1, lambda x, t: g)
    np.testing.assert_allclose(w.data, 0.5 - 0.01 * np.sign(g), rtol=1e-6)


def test_adam_second_step_by_hand():
    lr, (b1, b2), eps = 0.1, (0.9, 0.999), 1e-8
    w = param([1.0])
    run(optim.Adam([w], lr=lr), [w], 2, lambda x, t: np.array([[1.0, 3.0][t]]))
    m = (1 - b1) * (b1 * 1.0 + 3.0)
    v = (1 - b2) * (b2 * 1.0 + 9.0)
    expected = 1.0 - lr / (1 + eps) - lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    np.testing.assert_allclose(w.data, [expected], rtol=1e-12)


def test_adamw_decay_is_decoupled():
    lr, wd = 0.1, 0.2
    w = param([2.0, -1.0])
    run(optim.AdamW([w], lr=lr, weight_decay=wd), [w], 3, lambda x, t: np.zeros(2))
    # zero gradient: only the decay acts, w <- w (1 - lr wd) per step
    np.testing.assert_allclose(w.data, np.array([2.0, -1.0]) * (1 - lr * wd) ** 3, rtol=1e-12)

    w = param([2.0, -1.0])
    run(optim.AdamW([w], lr=lr, weight_decay=wd), [w], 1, lambda x, t: np.array([0.5, 4.0]))
    np.testing.assert_allclose(w.data, np.array([2.0, -1.0]) * (1 - lr * wd) - lr, rtol=1e-6)

    # Adam's L2 decay goes through the adaptive denominator instead: with zero gradient the first
    # step is lr * sign(w), whatever the weight decay
    w = param([2.0, -1.0])
    run(optim.Adam([w], lr=lr, weight_decay=wd), [w], 1, lambda x, t: np.zeros(2))
    np.testing.assert_allclose(w.data, [2.0 - lr, -1.0 + lr], rtol=1e-6)


def test_amsgrad_keeps_the_largest_second_moment():
    w = param([0.0])
    opt = optim.Adam([w], lr=0.1, amsgrad=True)
    run(opt, [w], 2, lambda x, t: np.array([[10.0, 0.0][t]]))
    state = opt.state[w]
    assert state["max_exp_avg_sq"][0] == pytest.approx(0.001 * 100)
    assert state["exp_avg_sq"][0] == pytest.approx(0.999 * 0.001 * 100)


# -- RMSprop and Adagrad -----------------------------------------------------------------------------

def test_rmsprop_first_step_by_hand():
    w = param([1.0])
    run(optim.RMSprop([w], lr=0.01, alpha=0.9, eps=0.0), [w], 1, lambda x, t: np.array([2.0]))
    # s = 0.1 * 4, step = lr * g / sqrt(s)
    np.testing.assert_allclose(w.data, [1.0 - 0.01 * 2.0 / np.sqrt(0.4)], rtol=1e-12)


def test_rmsprop_centered_first_step_by_hand():
    w = param([1.0])
    run(optim.RMSprop([w], lr=0.01, alpha=0.9, eps=0.0, centered=True), [w], 1, lambda x, t: np.array([2.0]))
    # s = 0.4, ḡ = 0.2, variance = 0.4 - 0.04
    np.testing.assert_allclose(w.data, [1.0 - 0.01 * 2.0 / np.sqrt(0.36)], rtol=1e-12)


def test_adagrad_by_hand():
    w = param([1.0])
    opt = optim.Adagrad([w], lr=0.5, lr_decay=1.0, initial_accumulator_value=1.0, eps=0.0)
    run(opt, [w], 2, lambda x, t: np.array([[1.0, 2.0][t]]))
    # S = 1 + 1 = 2, step 0.5/sqrt(2); then S = 6, lr 0.5 / (1 + 1) = 0.25, step 0.25 * 2 / sqrt(6)
    np.testing.assert_allclose(w.data, [1.0 - 0.5 / np.sqrt(2) - 0.5 / np.sqrt(6)], rtol=1e-12)
    assert opt.state[w]["step"] == 2


# -- the Optimizer machinery -------------------------------------------------------------------------

def test_param_groups_with_their_own_lr():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01, "momentum": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.5
    run(opt, [a, b], 2, lambda x, t: np.ones(1))
    np.testing.assert_allclose(a.data, [0.8])
    np.testing.assert_allclose(b.data, [1.0 - 0.01 - 0.01 * 1.5])


def test_add_param_group_takes_the_defaults():
    a, b = param([1.0]), param([1.0])
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    run(opt, [a, b], 1, lambda x, t: np.ones(1))
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.8], rtol=1e-6)


def test_parameters_without_gradient_are_skipped():
    a, b = param([1.0]), param([1.0])
    opt = optim.Adam([a, b], lr=0.1)
    set_grad(a, [1.0])
    opt.step()
    assert b.data[0] == 1.0 and b not in opt.state and a in opt.state


def test_step_returns_the_closure_loss():
    w = param([1.0])
    opt = optim.SGD([w], lr=0.1)

    def closure():
        set_grad(w, 2 * w.data)
        return float(w.data[0] ** 2)

    assert opt.step(closure) == 1.0
    np.testing.assert_allclose(w.data, [0.8])


def test_zero_grad_sets_to_none_by_default():
    a, b = param([1.0, 2.0]), param([3.0])
    opt = optim.SGD([a, b], lr=0.1)
    set_grad(a, [5.0, 6.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_zero_grad_in_place():
    a, b = param([1.0, 2.0]), param(3.0)
    opt = optim.SGD([a, b], lr=0.1)
    set_grad(a, np.array([5.0, 6.0]))
    set_grad(b, np.array(7.0))
    grad, array = a.grad, a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and a.grad.data is array
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    assert b.grad.data == 0.0


def test_update_is_in_place():
    w = param([1.0, 2.0], dtype=np.float32)
    array = w.data
    run(optim.Adam([w], lr=0.1), [w], 2, quadratic)
    assert w.data is array


CONFIGS = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.05, weight_decay=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.05)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(CONFIGS)]


def noisy_quadratic(seed):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(10, 7)).astype(np.float32)
    return lambda w, t: 0.5 * w + noise[t, : w.size].reshape(w.shape)


def fresh(cls, kwargs, dtype=np.float64):
    params = [param([[1.0, -2.0], [0.5, 3.0]], dtype), param([0.1, -0.2, 0.3], dtype)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": kwargs["lr"] / 2}]
    return params, cls(groups, **kwargs)


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls, kwargs):
    grad_fn = noisy_quadratic(1)
    straight, opt = fresh(cls, kwargs)
    run(opt, straight, 10, grad_fn)

    params, opt = fresh(cls, kwargs)
    run(opt, params, 5, grad_fn)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    resumed = [param(p.data) for p in params]
    opt2 = cls([{"params": resumed[:1]}, {"params": resumed[1:]}], **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == kwargs["lr"] / 2
    run(opt2, resumed, 5, lambda w, t: grad_fn(w, t + 5))
    for ours, ref in zip(resumed, straight):
        np.testing.assert_array_equal(ours.data, ref.data)


def test_state_dict_layout_and_copies():
    params, opt = fresh(optim.SGD, dict(lr=0.1, momentum=0.9))
    run(opt, params[1:], 1, quadratic)  # only the second parameter gets state
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert list(saved["state"]) == [1]
    buf = saved["state"][1]["momentum_buffer"]
    assert buf is not opt.state[params[1]]["momentum_buffer"]
    saved["param_groups"][0]["lr"] = 99.0
    assert opt.param_groups[0]["lr"] == 0.1
    opt.load_state_dict(saved)
    buf[...] = 123.0
    assert not np.any(opt.state[params[1]]["momentum_buffer"] == 123.0)


def test_load_state_dict_rejects_another_layout():
    params, opt = fresh(optim.SGD, dict(lr=0.1))
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, but this optimizer has 1"):
        optim.SGD(params, lr=0.1).load_state_dict(saved)
    other = optim.SGD([{"params": params}, {"params": [param([1.0])]}], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0 .* has 1 parameters, but this optimizer's has 2"):
        other.load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_load_state_dict_rejects_state_of_another_shape():
    a, b = param([1.0, 2.0]), param([1.0])
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    run(opt, [a], 1, quadratic)
    with pytest.raises(ValueError, match="momentum_buffer"):
        optim.SGD([b], lr=0.1, momentum=0.9).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=IDS)
def test_float32_stays_float32(cls, kwargs):
    params, opt = fresh(cls, kwargs, dtype=np.float32)
    grad_fn = noisy_quadratic(2)
    run(opt, params, 3, lambda w, t: grad_fn(w, t).astype(np.float64))  # even from float64 gradients
    for p in params:
        assert p.data.dtype == np.float32
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


def test_functional_steps_keep_float32_with_numpy_scalar_hyperparameters():
    w = np.ones(3, dtype=np.float32)
    g = np.full(3, 0.5, dtype=np.float32)
    buf = F.sgd_step(w, g, None, lr=np.float64(0.1), momentum=np.float64(0.9), weight_decay=np.float64(0.1))
    m, v, _ = F.adam_step(w, g, None, None, step=1, lr=np.float64(0.1), betas=(np.float64(0.9), 0.99))
    s = F.adagrad_step(w, g, None, step=1, lr=np.float64(0.1), initial_accumulator_value=np.float64(0.1))
    sq, ga, b = F.rmsprop_step(w, g, None, None, None, lr=0.1, alpha=np.float64(0.9), momentum=0.5,
                               centered=True)
    F.adamw_step(w, g, m, v, step=2, lr=np.float64(0.1))
    assert all(a.dtype == np.float32 for a in [w, buf, m, v, s, sq, ga, b])
    np.testing.assert_array_equal(g, 0.5)  # the gradient is left alone


def test_functional_rejects_gradients_of_another_shape():
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) for a parameter of shape \(3,\)"):
        F.sgd_step(np.zeros(3), np.zeros(2), None, lr=0.1)


def test_state_is_indexed_by_parameter_identity():
    a = param([1.0])
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    run(opt, [a], 1, quadratic)
    assert a in opt.state and param([1.0]) not in opt.state and len(opt.state) == 1
    assert list(opt.state) == [a]


def test_repr_lists_the_groups():
    opt = optim.SGD([param([1.0])], lr=0.1)
    assert "Parameter Group 0" in repr(opt) and "lr: 0.1" in repr(opt)
