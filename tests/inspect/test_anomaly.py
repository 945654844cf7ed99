"""detect_anomaly: the first NaN or infinity, named by primitive, mode and the user's line."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.graph import hooks
from chainrule.errors import AnomalyError
from chainrule.inspect import detect_anomaly

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def line_of(code):
    with open(__file__, encoding="utf-8") as file:
        numbers = [n for n, line in enumerate(file, 1) if line.strip() == code]
    assert len(numbers) == 1, code
    return numbers[0]


def test_log_of_zero_in_the_backward_pass_names_log_and_the_forward_line():
    x = cr.tensor([1.0, 0.0, 2.0], requires_grad=True)
    with pytest.raises(AnomalyError) as caught, detect_anomaly(check_forward=False):
        y = cr.log(x).sum()
        y.backward()
    error = caught.value
    assert (error.primitive, error.mode, error.argnum) == ("log", "VJP", 0)
    assert error.site[1] == line_of("y = cr.log(x).sum()")
    message = str(error)
    assert message.startswith("the VJP of log (backward pass, for input 0) produced 1 infinite value(s) of 3")
    assert f"test_anomaly.py:{line_of('y = cr.log(x).sum()')}  y = cr.log(x).sum()" in message
    assert f"test_anomaly.py:{line_of('y.backward()')}  y.backward()" in message
    assert "shapes: inputs (3,) -> output (3,)" in message
    assert "[1] = inf  (input 0 = 0, cotangent = 1)" in message
    assert x.grad is None


def test_a_gradient_that_overflows_is_caught_although_the_forward_pass_is_finite():
    x = cr.tensor(np.array([1.0, 1e-40], dtype="float32"), requires_grad=True)
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        cr.log(x).sum().backward()                      # log(1e-40) = -92, but 1 / 1e-40 > float32 max
    assert (caught.value.primitive, caught.value.mode) == ("log", "VJP")
    assert "[1] = inf  (input 0 = 1e-40, cotangent = 1)" in str(caught.value)


def test_log_of_zero_is_caught_in_the_forward_pass_by_default():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        z = cr.log(x) * 2
    error = caught.value
    assert (error.primitive, error.mode, error.argnum) == ("log", "forward", None)
    assert error.site[1] == line_of("z = cr.log(x) * 2")
    assert "log (forward pass) produced 1 infinite value(s) of 2" in str(error)
    assert "[0] = -inf  (input 0 = 0)" in str(error)


def test_nan_counts_and_inputs_that_were_already_bad():
    x = cr.tensor([np.nan, -1.0, 4.0])
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        cr.sqrt(x)
    message = str(caught.value)
    assert "produced 2 NaN value(s) of 3" in message
    assert "the inputs already held NaN or infinity" in message
    assert "[0] = nan  (input 0 = nan)" in message and "[1] = nan  (input 0 = -1)" in message


def test_jvp_rule_is_reported_under_its_own_name():
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        cr.jvp(cr.sqrt, (cr.tensor([0.0, 1.0]),), (cr.tensor([1.0, 1.0]),))
    error = caught.value
    assert (error.primitive, error.mode, error.argnum) == ("sqrt", "JVP", 0)
    assert error.site[1] == line_of("cr.jvp(cr.sqrt, (cr.tensor([0.0, 1.0]),), (cr.tensor([1.0, 1.0]),))")


def test_higher_order_rules_are_reported_under_their_own_name():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError) as caught, detect_anomaly():
        (g,) = cr.grad(lambda z: cr.sqrt(z).sum(), argnums=(0,))(x)
    assert (caught.value.primitive, caught.value.mode) == ("sqrt", "VJP")


def test_finite_computations_pass_and_hooks_are_restored():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        (cr.log(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.log([1.0, 2.0]) + 1)
    assert (hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site) == (None, None, None, False)
    with pytest.raises(AnomalyError), detect_anomaly():
        cr.log(cr.tensor(0.0))
    assert (hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site) == (None, None, None, False)


def test_integer_outputs_are_not_checked():
    with detect_anomaly():
        assert cr.one_hot(np.array([0, 2]), num_classes=3).shape == (2, 3)
