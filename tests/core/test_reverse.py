"""Reverse mode as PyTorch users know it, and the classic traps."""

import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GraphError, ShapeError


def test_leaf_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2 + 3, 4 + 3])


def test_second_backward_through_freed_graph_says_what_to_do():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * x
    y.backward()
    with pytest.raises(GraphError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_backward_twice():
    x = cr.tensor(2.0, requires_grad=True)
    y = x ** 3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 12.0)


def test_non_scalar_backward_without_gradient_names_the_shape():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(GraphError, match=r"\(2, 3\)"):
        (x * 2).backward()


def test_backward_with_explicit_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, -6.0])


def test_intermediate_gradients_kept_only_when_asked():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    kept = (x + 1).retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad.data, [2.0, 4.0])


def test_hundred_thousand_node_chain_needs_no_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    assert x.grad.item() == 1.0


def test_input_used_twice_gets_both_contributions():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x + x).backward()
    assert x.grad.item() == 7.0


def test_where_with_nan_in_the_branch_not_taken_keeps_gradients_finite():
    x = cr.tensor([1.0, -1.0, 4.0], requires_grad=True)
    poisoned = cr.tensor([np.nan, np.inf, np.nan])
    cr.where(x.data > 0, x * 2, poisoned).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 2.0])


def test_where_sqrt_trap_and_its_safe_pattern():
    x = cr.tensor([4.0, -1.0], requires_grad=True)
    cr.where(x > 0, cr.sqrt(x), 0.0).sum().backward()
    assert np.isnan(x.grad.data[1])  # the documented trap: 0 * d sqrt(-1) = NaN
    x.grad = None
    safe = cr.where(x > 0, x, 1.0)
    cr.where(x > 0, cr.sqrt(safe), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.25, 0.0])


def test_softmax_cross_entropy_of_huge_logits_is_finite_and_exact():
    z = cr.tensor([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 0.0]], requires_grad=True)
    loss = cr.softmax_cross_entropy(z, np.array([0, 1])).sum()
    loss.backward()
    assert loss.item() == pytest.approx(np.log(2))
    np.testing.assert_allclose(z.grad.data, [[0, 0, 0], [0.5, -0.5, 0]], atol=1e-12)
    probs = cr.softmax(z, axis=-1).data
    assert np.all(np.isfinite(probs))


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    z = cr.tensor(logits, requires_grad=True)
    cr.softmax_cross_entropy(z, labels).mean().backward()
    s = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad.data, (s - np.eye(4)[labels]) / 5, atol=1e-14)


def test_broadcasting_is_undone_in_the_backward_pass():
    x = cr.tensor(np.ones((2, 3, 4)), requires_grad=True)
    b = cr.tensor(np.ones((3, 1)), requires_grad=True)
    (x * b).sum().backward()
    np.testing.assert_array_equal(b.grad.data, np.full((3, 1), 8.0))


def test_operators_with_arrays_and_scalars_on_either_side():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = 2.0 - x + np.array([1.0, 1.0]) * x / 2 + 1 / x + 2 ** x + np.ones(2) @ x
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    expected = -1 + 0.5 - 1 / np.array([1.0, 4.0]) + np.log(2) * 2.0 ** np.array([1.0, 2.0]) + 2
    np.testing.assert_allclose(x.grad.data, expected)


def test_comparisons_give_constant_booleans():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal((x <= 2).data, [True, True, False])


def test_getitem_with_repeated_integer_indices_accumulates():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 1.0])


def test_take_along_axis_picks_and_scatters():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    picked = x.gather(1, np.array([[2], [0]]))
    np.testing.assert_array_equal(picked.data, [[2.0], [3.0]])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1], [1, 0, 0]])


def test_no_grad_records_nothing_and_enable_grad_restores():
    w = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not (w * 2).requires_grad
        with cr.enable_grad():
            assert (w * 2).requires_grad
    assert cr.is_grad_enabled()


def test_float32_stays_float32_through_forward_and_backward():
    w = cr.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    x = np.ones((4, 3), np.float32)
    loss = cr.softmax_cross_entropy(cr.tanh(x @ w) * 0.5 + 1, np.array([0, 1, 1, 0])).mean()
    loss.backward()
    assert loss.dtype == np.float32 and w.grad.dtype == np.float32


def test_shape_errors_name_the_operation_shapes_and_the_users_line():
    a, b = cr.tensor(np.ones((3, 4))), cr.tensor(np.ones((5, 2)))
    with pytest.raises(ShapeError) as error:
        a @ b  # the offending line
    message = str(error.value)
    assert "matmul" in message and "(3, 4)" in message and "(5, 2)" in message
    assert "test_reverse.py" in message and "the offending line" in message


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        cr.tensor([1, 2], requires_grad=True)


def test_create_graph_gives_differentiable_gradients():
    x = cr.tensor(2.0, requires_grad=True)
    y = x ** 3
    y.backward(create_graph=True)
    first = x.grad
    assert first.item() == 12.0
    x.grad = None
    first.backward()
    assert x.grad.item() == 12.0  # d/dx 3x^2 = 6x


def test_grads_of_two_leaves_do_not_share_memory():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0


def test_float64_constants_do_not_upcast_float32_gradients():
    x = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    (x * np.ones(3)).sum().backward()
    assert x.grad.dtype == np.float32


def test_copies_of_a_leaf_are_independent_leaves():
    import copy
    import pickle
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for twin in (copy.deepcopy(x), pickle.loads(pickle.dumps(x))):
        (twin * 2).sum().backward()
        np.testing.assert_array_equal(twin.grad.data, [2.0, 2.0])
        assert x.grad is None and twin.data is not x.data


def test_a_reshaped_view_of_a_shared_cotangent_is_copied_into_its_leaf():
    a = cr.tensor(np.ones((2, 2)), requires_grad=True)
    b = cr.tensor(np.ones(4), requires_grad=True)
    (a.reshape(4) + b).sum().backward()
    a.grad.data[0, 0] = 100.0
    np.testing.assert_array_equal(b.grad.data, np.ones(4))


def test_linear_weight_gradients_keep_the_weights_layout():
    layer = cr.nn.Linear(3, 2)
    layer(np.ones((4, 3), np.float32)).sum().backward()
    assert layer.weight.data.flags.f_contiguous and layer.weight.grad.data.flags.f_contiguous
    np.testing.assert_array_equal(layer.weight.grad.data, np.full((2, 3), 4.0))


def test_a_python_int_label_works_in_both_passes():
    z = np.array([0.5, -1.0, 2.0])
    s = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(cr.grad(lambda z: cr.softmax_cross_entropy(z, 2))(z).data, s - np.eye(3)[2])
