"""vmap's semantics (JAX's): pytrees, None, negative axes, out_axes, nesting and composition with the
other transforms in any order, randomness, and errors that name the argument."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.batching import defvectorized, primitive_batchers
from chainrule.core.primitive import REGISTRY, primitive

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))
W = RNG.standard_normal((2, 3))


def f(x, w):
    return cr.tanh(w @ x).sum() * x[0]


def _loop(fn, *args, axes):
    count = next(np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = [fn(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, axes)])
            for b in range(count)]
    leaves = [cr.tree_flatten(o)[0] for o in outs]
    return [np.stack([np.asarray(l[k].data) for l in leaves]) for k in range(len(leaves[0]))]


def _close(got, expected):
    got = [np.asarray(g.data) for g in cr.tree_flatten(got)[0]]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_unbatched_argument_and_negative_axis():
    _close(cr.vmap(f, in_axes=(0, None))(X, W), _loop(f, X, W, axes=(0, None)))
    _close(cr.vmap(f, in_axes=(-1, None))(X.T, W), _loop(f, X, W, axes=(0, None)))


def test_pytrees_in_and_out_with_prefix_axes():
    def g(params, x):
        return {"y": params["w"] @ x, "s": (x * params["b"]).sum()}, x
    params = {"w": W, "b": np.arange(3.0)}
    out = cr.vmap(g, in_axes=({"w": None, "b": None}, 0))(params, X)
    assert set(out[0]) == {"y", "s"}
    np.testing.assert_allclose(out[0]["y"].data, X @ W.T)
    np.testing.assert_allclose(out[0]["s"].data, X @ np.arange(3.0))
    np.testing.assert_allclose(out[1].data, X)
    out = cr.vmap(g, in_axes=(None, 0), out_axes=({"y": 1, "s": 0}, -1))(params, X)
    np.testing.assert_allclose(out[0]["y"].data, W @ X.T)
    np.testing.assert_allclose(out[1].data, X.T)


def test_torch_func_spelling_and_unbatched_outputs():
    out = cr.vmap(lambda x, w: (w * 2, x.sum()), in_dims=(0, None), out_dims=(None, 0))(X, W)
    np.testing.assert_allclose(out[0].data, W * 2)
    np.testing.assert_allclose(out[1].data, X.sum(axis=1))
    # An output that does not depend on the batch is repeated along the batch axis.
    np.testing.assert_allclose(cr.vmap(lambda x: cr.tensor(W))(X).data, np.stack([W] * 4))
    np.testing.assert_allclose(cr.vmap(lambda: cr.tensor(1.0), axis_size=3)().data, [1.0, 1.0, 1.0])


def test_keyword_arguments_are_mapped_over_axis_0():
    out = cr.vmap(lambda x, scale: x * scale)(X, scale=np.arange(4.0))
    np.testing.assert_allclose(out.data, X * np.arange(4.0)[:, None])


def test_nested_vmap_is_an_outer_product_of_loops():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3))
    table = cr.vmap(cr.vmap(lambda u, v: (u * v).sum(), in_axes=(None, 0)), in_axes=(0, None))(a, b)
    np.testing.assert_allclose(table.data, a @ b.T)


@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jacrev", "hessian"])
def test_vmap_of_a_transform_and_the_transform_of_vmap(transform):
    def h(x):
        return (cr.sin(x) * cr.tanh(W @ x).sum()).sum()
    t = getattr(cr, transform)
    _close(cr.vmap(t(h))(X), _loop(t(h), X, axes=(0,)))
    # The transform of a vmapped function: block-diagonal over the examples.
    total = t(lambda xs: cr.vmap(h)(xs).sum())(X)
    per_example = _loop(t(h), X, axes=(0,))[0]
    if transform == "grad":
        np.testing.assert_allclose(total.data, per_example, rtol=1e-12)
    else:
        blocks = np.asarray(total.data).reshape(4, 3, 4, 3) if transform == "hessian" else None
        if blocks is not None:
            for i in range(4):
                np.testing.assert_allclose(blocks[i, :, i, :], per_example[i], rtol=1e-10, atol=1e-12)
                assert not blocks[i, :, (i + 1) % 4, :].any()
        else:
            np.testing.assert_allclose(total.data, per_example, rtol=1e-12)


def test_jvp_and_vjp_compose_with_vmap_in_both_orders():
    tangents = RNG.standard_normal(X.shape)
    primal, tangent = cr.vmap(lambda x, t: cr.jvp(lambda x: cr.tanh(W @ x), (x,), (t,)))(X, tangents)
    np.testing.assert_allclose(primal.data, np.tanh(X @ W.T))
    np.testing.assert_allclose(tangent.data, (1 - np.tanh(X @ W.T) ** 2) * (tangents @ W.T), rtol=1e-12)
    primal, tangent = cr.jvp(cr.vmap(lambda x: cr.tanh(W @ x)), (X,), (tangents,))
    np.testing.assert_allclose(tangent.data, (1 - np.tanh(X @ W.T) ** 2) * (tangents @ W.T), rtol=1e-12)
    g = RNG.standard_normal((4, 2))
    pulled = cr.vmap(lambda x, g: cr.vjp(lambda x: cr.tanh(W @ x), x)[1](g)[0])(X, g)
    np.testing.assert_allclose(pulled.data, ((1 - np.tanh(X @ W.T) ** 2) * g) @ W, rtol=1e-12)


def test_jacobians_match_finite_differences_and_stay_one_pass():
    x = RNG.standard_normal(3)
    jac = cr.jacrev(lambda x: cr.tanh(W @ x))(x).data
    np.testing.assert_allclose(jac, (1 - np.tanh(W @ x) ** 2)[:, None] * W, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(lambda x: cr.tanh(W @ x))(x).data, jac, rtol=1e-12)
    calls = []
    cr.inspect_hook = None

    def counted(x):
        calls.append(1)
        return cr.tanh(W @ x)
    cr.jacfwd(counted)(x)
    cr.jacrev(counted)(x)
    assert len(calls) == 2  # one batched pass each, not one call per row or column


def test_dropout_draws_independent_masks_per_example():
    cr.manual_seed(0)
    out = cr.vmap(lambda x: cr.nn.functional.dropout(x, 0.5, training=True))(np.ones((64, 10)))
    masks = out.data != 0
    assert 0.3 < masks.mean() < 0.7
    assert len({row.tobytes() for row in masks}) > 60  # the rows differ


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"different sizes: argument 0 \(x\) has size 4 .* argument 1 \(w\) "
                                         r"has size 2"):
        cr.vmap(f)(X, W)
    with pytest.raises(ValueError, match=r"in_axes 2 for argument 0 \(x\) of shape \(4, 3\) is out of range"):
        cr.vmap(f, in_axes=(2, None))(X, W)
    with pytest.raises(ValueError, match=r"argument 1 \(w\) is a scalar"):
        cr.vmap(f, in_axes=(0, 0))(X, 2.0)
    with pytest.raises(ValueError, match="in_axes has 1 entries but f was called with 2"):
        cr.vmap(f, in_axes=(0,))(X, W)
    with pytest.raises(ValueError, match="does not match the argument's structure"):
        cr.vmap(lambda p: p[0], in_axes=((0, 0, 0),))((X, X))
    with pytest.raises(ValueError, match="no argument of <lambda> is mapped"):
        cr.vmap(lambda x: x, in_axes=None)(X)
    with pytest.raises(ValueError, match="out_axes is None for output leaf 0"):
        cr.vmap(lambda x: x, out_axes=None)(X)
    with pytest.raises(TypeError, match="in_axes must be an int, None"):
        cr.vmap(f, in_axes="0")
    with pytest.raises(ValueError, match="randomness must be one of"):
        cr.vmap(f, randomness="same")


def test_reading_a_batched_value_in_python_is_refused():
    with pytest.raises(ValueError, match=r"vmap: item\(\) reads the values of a tensor"):
        cr.vmap(lambda x: x.sum().item())(X)
    with pytest.raises(ValueError, match=r"vmap: bool\(\)"):
        cr.vmap(lambda x: x if x.sum() > 0 else -x)(X)


def test_a_primitive_without_a_batching_rule_is_refused_by_name_and_can_register_one():
    cube = primitive("test_vmap_cube", lambda xp, x: x ** 3)
    try:
        cube.defvjp(lambda ns, g, ans, x: 3 * g * x * x).defjvp(lambda ns, t, ans, x: 3 * t * x * x)
        with pytest.raises(NotImplementedError, match="primitive 'test_vmap_cube' has no batching rule"):
            cr.vmap(cube)(X)
        defvectorized(cube)
        np.testing.assert_allclose(cr.vmap(cube)(X).data, X ** 3)
        np.testing.assert_allclose(cr.vmap(cr.grad(lambda x: cube(x).sum()))(X).data, 3 * X ** 2)
    finally:  # the registry's tests see only the engine's primitives
        REGISTRY.pop("test_vmap_cube", None)
        primitive_batchers.pop(cube, None)


def test_batch_norm_in_training_mode_is_refused_and_eval_mode_works():
    norm = cr.nn.BatchNorm1d(3).double()
    sequences = RNG.standard_normal((4, 3, 5))
    with pytest.raises(NotImplementedError, match="running_update cannot be batched"):
        cr.vmap(lambda x: norm(x[None]))(sequences)
    norm.eval()
    np.testing.assert_allclose(cr.vmap(lambda x: norm(x[None])[0])(sequences).data,
                               sequences / np.sqrt(1 + 1e-5), rtol=1e-12)


def test_indexing_with_a_batched_index_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="index tensor that differs from example to example"):
        cr.vmap(lambda x, i: x[i])(X, np.array([0, 1, 2, 0]))


def test_backward_inside_vmap_is_refused_by_name():
    w = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(cr.errors.GraphError, match="backward\\(\\) through a vmapped computation"):
        cr.vmap(lambda x: (x * w).sum().backward())(X)


def test_a_compiled_function_of_vmap_replays_the_batched_pass():
    per_example = cr.vmap(cr.grad(lambda w, x: cr.tanh(w @ x).sum()), in_axes=(None, 0))
    compiled = cr.compile(per_example)
    expected = per_example(W, X).data
    for scale in (1.0, 2.0):  # recorded, then replayed with other values
        np.testing.assert_allclose(compiled(W * scale, X).data, per_example(W * scale, X).data, rtol=1e-12)
    np.testing.assert_allclose(compiled(W, X).data, expected, rtol=1e-12)
