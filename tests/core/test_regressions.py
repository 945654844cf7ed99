"""Regression tests for the engine's bugs found by testing chainrule as a new user would (issue 17)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.primitive import REGISTRY, primitive


# -- keywords -------------------------------------------------------------------------------------

def test_primitives_take_pytorch_dim_and_keepdim():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert cr.sum(x, dim=1, keepdim=True).shape == (2, 1)
    np.testing.assert_allclose(cr.softmax(x, dim=0).data, cr.softmax(x, axis=0).data)
    cr.logsumexp(x, dim=-1).sum().backward()
    np.testing.assert_allclose(x.grad.data.sum(axis=1), [1.0, 1.0])


@pytest.mark.parametrize("call, words", [
    (lambda x: cr.sum(x, dims=1), ["'dims'", "axis (or dim)", "keepdims (or keepdim)"]),
    (lambda x: cr.exp(x, axis=1), ["exp()", "'axis'", "no keyword arguments"]),
    (lambda x: cr.sum(x, axis=1, dim=0), ["'axis' twice"]),
    (lambda x: cr.sum(x, 1, axis=0), ["multiple values", "'axis'"]),
])
def test_a_wrong_keyword_is_a_type_error_naming_it_and_the_accepted_ones(call, words):
    with pytest.raises(TypeError) as caught:
        call(cr.tensor(np.ones((2, 3))))
    message = str(caught.value).splitlines()[0]  # not the user's line quoted below it
    for word in words:
        assert word in message


# -- redefining a primitive -----------------------------------------------------------------------

def _define_cube(scale):
    cube = primitive("test_regressions_cube", lambda xp, x: scale * x ** 3)
    cube.def_elementwise(lambda ns, g, ans, x: g * 3 * scale * x * x)
    return cube


def test_running_a_definition_again_redefines_the_primitive_in_place():
    first = _define_cube(1.0)
    try:
        assert float(cr.grad(lambda x: first(x))(2.0)) == 12.0
        second = _define_cube(2.0)
        assert second is first
        assert float(first(2.0)) == 16.0
        assert float(cr.grad(lambda x: first(x))(2.0)) == 24.0
        assert float(cr.grad(cr.grad(lambda x: first(x)))(2.0)) == 24.0  # rules run on the new one
    finally:
        REGISTRY.pop("test_regressions_cube", None)


def test_a_name_taken_by_another_module_is_refused():
    with pytest.raises(ValueError, match="already defined in chainrule.ops.elementwise"):
        primitive("exp", lambda xp, x: x)
