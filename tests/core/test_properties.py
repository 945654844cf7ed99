"""Hypothesis draws shapes (broadcast pairs, empty and size-1 axes) and values."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

FAST = settings(max_examples=40, deadline=None)
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3),
       st.sampled_from([cr.add, cr.sub, cr.mul, cr.maximum]))
def test_broadcast_gradients_have_the_input_shapes_and_sum_the_output(shapes, op):
    (shape_x, shape_y), out_shape = shapes.input_shapes, shapes.result_shape
    x = cr.tensor(np.ones(shape_x) * 2.0, requires_grad=True)
    y = cr.tensor(np.ones(shape_y) * 3.0, requires_grad=True)
    op(x, y).sum().backward()
    assert x.grad.shape == shape_x and y.grad.shape == shape_y
    # With constant inputs, each input element receives its broadcast multiplicity times d op.
    multiplicity_x = int(np.prod(out_shape)) // max(int(np.prod(shape_x)), 1) if np.prod(shape_x) else 0
    expected = {cr.add: 1.0, cr.sub: 1.0, cr.mul: 3.0, cr.maximum: 0.0}[op]
    np.testing.assert_allclose(x.grad.data, np.full(shape_x, expected * multiplicity_x))


@FAST
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                  elements=finite),
       st.data())
def test_sum_and_mean_gradients_over_any_axis(x, data):
    axis = data.draw(st.integers(0, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    t = cr.tensor(x, requires_grad=True)
    cr.mean(t, axis=axis, keepdims=keepdims).sum().backward()
    np.testing.assert_allclose(t.grad.data, np.full(x.shape, 1.0 / x.shape[axis]))


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=finite))
def test_softmax_rows_sum_to_one_and_log_softmax_agrees(z):
    s = cr.softmax(cr.tensor(z * 100), axis=1).data
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(cr.log_softmax(cr.tensor(z * 100), axis=1).data), s, atol=1e-12)


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=finite),
       hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=finite))
def test_adjoint_identity_for_matmul(a, b):
    if a.shape[1] != b.shape[0]:
        b = np.resize(b, (a.shape[1], b.shape[1]))
    rng = np.random.default_rng(0)
    ta, tb = rng.normal(size=a.shape), rng.normal(size=b.shape)
    out, tangent = cr.jvp(cr.matmul, (a, b), (ta, tb))
    u = rng.normal(size=out.shape)
    ga, gb = cr.vjp(cr.matmul, a, b)[1](u)
    np.testing.assert_allclose(np.sum(u * tangent.data), np.sum(ga.data * ta) + np.sum(gb.data * tb),
                               rtol=1e-10, atol=1e-10)


@FAST
@given(st.lists(st.integers(0, 4), min_size=1, max_size=8))
def test_indexing_with_repeats_scatter_adds(indices):
    x = cr.tensor(np.zeros(5), requires_grad=True)
    x[np.array(indices)].sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.bincount(indices, minlength=5))
