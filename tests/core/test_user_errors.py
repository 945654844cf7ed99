"""Bad input to tensor creation and Tensor methods: refused with chainrule's words, naming the call."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError


@pytest.mark.parametrize("data", ["abc", [object()], None, {1: 2}, b"ab", ["a", "b"],
                                  np.array(["x"]), np.datetime64("2020")])
def test_tensor_refuses_what_is_not_numbers(data):
    with pytest.raises(TypeError, match=r"tensor\(\): data must be numbers"):
        cr.tensor(data)


def test_parameter_names_itself_when_refusing():
    with pytest.raises(TypeError, match=r"Parameter\(\): data must be numbers"):
        cr.nn.Parameter("abc")


def test_ragged_list_is_named_as_such():
    with pytest.raises(ValueError, match=r"tensor\(\): a ragged nested list .* pad its rows"):
        cr.tensor([[1, 2], [3]])


def test_unconvertible_and_unknown_dtypes_name_the_call():
    with pytest.raises(TypeError, match=r"tensor\(\): data must be numbers .* not list \['a'\]"):
        cr.tensor(["a"], dtype=float)
    with pytest.raises(TypeError, match=r"tensor\(\): cannot convert list \[\(1\+1j\)\] to float64"):
        cr.tensor([1 + 1j], dtype="float64")
    with pytest.raises(OverflowError, match=r"tensor\(\): cannot convert list \[-1\] to uint8"):
        cr.tensor([-1], dtype="uint8")
    with pytest.raises(TypeError, match=r"tensor\(\): unknown dtype 'foo'"):
        cr.tensor([1.0], dtype="foo")


def test_numbers_of_every_kind_still_make_tensors():
    for data, kind in [(True, "b"), (3, "i"), (np.uint8(3), "u"), (2.5, "f"), ([1 + 2j], "c")]:
        assert cr.tensor(data).dtype.kind == kind
    assert cr.tensor(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("make", [cr.zeros, cr.ones, cr.randn, cr.rand])
def test_filled_tensors_check_their_sizes(make):
    name = make.__name__
    with pytest.raises(ValueError, match=rf"{name}\(\): each size in shape \(-1, 3\) must be a non-negative"):
        make(-1, 3)
    with pytest.raises(TypeError, match=rf"{name}\(\): each size .* not 2.5"):
        make(2.5)
    with pytest.raises(TypeError, match=rf"{name}\(\): each size .* not 'a'"):
        make((2, "a"))
    assert make(np.int64(2), 3).shape == make((2, 3)).shape == (2, 3)
    assert make().shape == ()


def test_creation_functions_check_dtypes_and_arguments():
    with pytest.raises(TypeError, match=r"zeros\(\): unknown dtype 'foo'"):
        cr.zeros(2, dtype="foo")
    with pytest.raises(TypeError, match=r"randn\(\): dtype must be a floating-point type"):
        cr.randn(2, dtype="int32")
    with pytest.raises(ValueError, match=r"eye\(\): n must be a non-negative int, not -1"):
        cr.eye(-1)
    with pytest.raises(TypeError, match=r"eye\(\): n must be a non-negative int, not 2.0"):
        cr.eye(2.0)
    with pytest.raises(TypeError, match=r"arange\(\): start, stop and step must be numbers, not 'a'"):
        cr.arange("a")
    with pytest.raises(ValueError, match=r"arange\(\): step must not be zero"):
        cr.arange(0, 1, 0)
    with pytest.raises(TypeError, match=r"arange\(\) takes 1 to 3"):
        cr.arange()
    with pytest.raises(TypeError, match=r"zeros_like\(\): data must be numbers"):
        cr.zeros_like("abc")
    with pytest.raises(TypeError, match=r"from_numpy\(\): expected a NumPy array, not list"):
        cr.from_numpy([1, 2])


def test_pytorch_creation_names():
    a = np.zeros(3)
    shared = cr.from_numpy(a)
    a[0] = 5
    assert shared.tolist() == [5, 0, 0]
    assert cr.eye(2, 3).shape == (2, 3)
    assert cr.arange(0, 1, 0.25, dtype="float32").tolist() == [0, 0.25, 0.5, 0.75]
    draws = cr.randn(1000, generator=0)
    assert draws.dtype == np.float32 and abs(float(draws.mean())) < 0.1
    assert np.array_equal(cr.randn(2, 3, generator=1).numpy(), cr.randn((2, 3), generator=1).numpy())
    uniform = cr.rand(1000, dtype="float64", generator=0).numpy()
    assert uniform.dtype == np.float64 and 0 <= uniform.min() and uniform.max() < 1
    assert cr.randn(2, dtype="float16").dtype == np.float16
    assert cr.randn(2, requires_grad=True).requires_grad
    joined = cr.cat([cr.ones(2, 1), cr.zeros(2, 1)], dim=1)
    assert joined.tolist() == [[1, 0], [1, 0]]
    assert cr.stack([cr.ones(2), cr.zeros(2)], dim=1).shape == (2, 2)


def test_testing_is_reachable_after_import_chainrule():
    import subprocess
    import sys
    code = ("import numpy as np, chainrule; "
            "chainrule.testing.check_grads(lambda x: (x ** 3).sum(), (np.array([0.3, -1.2]),), order=2)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_item_and_float_of_many_elements_say_what_to_do():
    for convert in (lambda x: x.item(), float, int):
        with pytest.raises(ValueError, match=r"item\(\) needs a tensor of one element.*shape \(2, 3\)"):
            convert(cr.ones(2, 3))
    assert float(cr.ones(1)) == 1.0


def test_unknown_keyword_names_it_and_the_accepted_ones():
    with pytest.raises(TypeError, match=r"sum\(\) got an unexpected keyword argument 'axes' \(did you mean "
                                        r"'axis'\?\); it accepts axis \(or dim\), keepdims \(or keepdim\)"):
        cr.ones(2, 3).sum(axes=1)
    with pytest.raises(TypeError, match=r"concatenate\(\) got an unexpected keyword argument 'axes'"):
        cr.cat([cr.ones(2)], axes=0)
    with pytest.raises(TypeError, match=r"got 'axis' twice"):
        cr.ones(2, 3).sum(axis=0, dim=1)


def test_t_refuses_more_than_two_axes():
    with pytest.raises(ShapeError, match=r"t\(\) transposes tensors of at most 2 axes.*\.mT"):
        cr.ones(2, 3, 4).t()


def test_dtypes_that_are_not_numbers_are_refused():
    for make in (lambda: cr.zeros(2, dtype=str), lambda: cr.tensor([1], dtype="U3"),
                 lambda: cr.eye(2, dtype=object)):
        with pytest.raises(TypeError, match=r"\(\): dtype must be a number type"):
            make()


def test_more_pytorch_creation_functions():
    assert cr.full((2, 3), 1.5).dtype == np.float32 and cr.full(2, 7).tolist() == [7, 7]
    assert cr.empty(2, 3).tolist() == [[0] * 3] * 2
    assert cr.linspace(0, 1, 5).tolist() == [0, 0.25, 0.5, 0.75, 1]
    draws = cr.randint(5, size=(100,), generator=0).numpy()
    assert draws.dtype == np.int64 and 0 <= draws.min() and draws.max() < 5
    assert sorted(cr.randperm(5, generator=0).tolist()) == [0, 1, 2, 3, 4]
    assert cr.zeros_like(cr.ones(2), dtype="float64").dtype == np.float64
    for call, message in [(lambda: cr.full((2,), "a"), r"full\(\): data must be numbers"),
                          (lambda: cr.randint(1.5, 3), r"randint\(\): low must be an int")]:
        with pytest.raises(TypeError, match=message):
            call()
    for call, message in [(lambda: cr.full(-1, 1.0), r"full\(\): each size in shape \(-1,\)"),
                          (lambda: cr.linspace(0, 1, -1), r"linspace\(\): steps must be a non-negative int"),
                          (lambda: cr.randint(5, 1), r"randint\(\): needs low < high"),
                          (lambda: cr.randperm(-1), r"randperm\(\): n must be a non-negative int")]:
        with pytest.raises(ValueError, match=message):
            call()


def test_requires_grad_must_be_a_bool():
    with pytest.raises(TypeError, match=r"Tensor\(\): requires_grad must be True or False, not 3 .*zeros\(2, 3\)"):
        cr.Tensor(2, 3)  # PyTorch's uninitialised Tensor(2, 3)
    assert cr.tensor([1.0], requires_grad=np.True_).requires_grad


def test_dtype_names_and_missing_names_of_the_namespace():
    assert cr.zeros(2, dtype=cr.float64).dtype == np.float64 and cr.ones(2).to(cr.float16).dtype == np.float16
    assert cr.tensor([1], dtype=cr.int64).dtype == np.int64
    assert cr.float is np.float32 and cr.long is np.int64  # PyTorch's aliases
    for name, hint in [("autograd", r"write chainrule.grad\(f\)\(x\)"), ("tensr", r"did you mean tensor")]:
        with pytest.raises(AttributeError, match=rf"module 'chainrule' has no attribute '{name}'; {hint}"):
            getattr(cr, name)
