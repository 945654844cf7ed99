"""PyTorch's (values, indices) reductions, module-level argmax/argmin/topk/allclose/multinomial, dtype
aliases and 0-d integer tensors as indices: against PyTorch where installed."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import check_grads

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

X = np.array([[3.0, 1.0, 4.0, 1.5], [5.0, 9.0, 2.0, 6.0], [5.5, 3.5, 5.8, 9.7]])


def _both(x=X):
    return cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


@pytest.mark.parametrize("call", [
    lambda m, x: m.max(x, 1), lambda m, x: m.max(x, dim=0), lambda m, x: m.min(x, 1, keepdim=True),
    lambda m, x: x.max(1), lambda m, x: x.min(dim=-1), lambda m, x: x.max(dim=1, keepdim=True),
    lambda m, x: m.sort(x, 1), lambda m, x: m.sort(x, dim=0, descending=True), lambda m, x: x.sort(),
    lambda m, x: m.topk(x, 2), lambda m, x: x.topk(2, dim=0, largest=False),
    lambda m, x: m.kthvalue(x, 3, 1), lambda m, x: x.kthvalue(1, dim=0, keepdim=True),
    lambda m, x: m.median(x, 1), lambda m, x: x.median(dim=0),
])
def test_values_and_indices_match_pytorch_with_gradients(call):
    ours, theirs = _both()
    got, want = call(cr, ours), call(torch, theirs)
    values, indices = got  # unpacks as PyTorch's pair
    assert type(got).__name__ == type(want).__name__
    assert np.allclose(got.values.data, want.values.detach().numpy())
    assert got.indices.tolist() == want.indices.tolist() and got.indices.dtype == np.int64
    weights = np.arange(1.0, 1.0 + values.data.size).reshape(values.shape)
    (values * cr.tensor(weights)).sum().backward()
    (want.values * torch.tensor(weights)).sum().backward()
    assert np.allclose(ours.grad.data, theirs.grad.numpy())


def test_the_torch_training_idiom_runs():
    outputs = cr.tensor(X)
    _, predicted = cr.max(outputs, 1)
    assert predicted.tolist() == [2, 1, 3]
    assert (predicted == cr.tensor([2, 1, 0])).sum().item() == 2


def test_numpy_spellings_keep_values_only():
    x = cr.tensor(X)
    assert np.allclose(cr.max(x, axis=1).data, X.max(1)) and np.allclose(x.min(axis=0).data, X.min(0))
    assert np.allclose(cnp.max(x, 1).data, X.max(1)) and np.allclose(cnp.sort(x, 0).data, np.sort(X, 0))
    assert np.allclose(cr.sort(x).data, np.sort(X)) and np.allclose(cr.median(x, axis=1).data, np.median(X, 1))
    assert np.allclose(cr.median(x).data, np.median(X))  # NumPy's: the mean of the two middle values
    assert np.allclose(cr.max(x).data, X.max())
    assert np.allclose(cr.max(x, cr.tensor(4.0)).data, np.maximum(X, 4.0))  # torch.max(x, other)


def test_numpy_max_still_shares_gradient_between_ties_while_the_pair_picks_the_first():
    check_grads(lambda x: cr.max(x, axis=1), (X,), order=2)
    tied = cr.tensor([[2.0, 2.0, 1.0]], requires_grad=True)
    cr.max(tied, 1).values.sum().backward()
    assert tied.grad.tolist() == [[1.0, 0.0, 0.0]]


def test_pair_spelling_errors_name_the_call():
    x = cr.tensor(X)
    with pytest.raises(TypeError, match=r"max\(\) got both dim=1 and axis=0"):
        cr.max(x, 1, axis=0)
    with pytest.raises(TypeError, match=r"dim must be an int .* write axis=\(0, 1\)"):
        cr.max(x, dim=(0, 1))
    with pytest.raises(ValueError, match=r"topk\(\): k must be an int from 0 to 4"):
        cr.topk(x, 5)
    with pytest.raises(ValueError, match=r"kthvalue\(\): k must be an int from 1 to 4"):
        cr.kthvalue(x, 0)


def test_module_level_argmax_argmin_allclose_isclose():
    ours, theirs = cr.tensor(X), torch.tensor(X)
    assert cr.argmax(ours).item() == torch.argmax(theirs).item()
    assert cr.argmax(ours, 1).tolist() == torch.argmax(theirs, 1).tolist()
    assert cr.argmin(ours, dim=0, keepdim=True).tolist() == torch.argmin(theirs, dim=0, keepdim=True).tolist()
    assert cr.argmax(ours, axis=1).tolist() == X.argmax(1).tolist()
    assert cr.allclose(ours, ours + 1e-9) is True and cr.allclose(ours, ours + 1e-3) is False
    near = cr.isclose(ours, cr.tensor(X + np.array([0, 1e-9, 1e-3, 0])))
    assert near.tolist() == torch.isclose(theirs, torch.tensor(X + np.array([0, 1e-9, 1e-3, 0]))).tolist()


def test_multinomial_draws_by_weight_and_follows_manual_seed():
    weights = cr.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
    cr.manual_seed(3)
    first = cr.multinomial(weights, 1000, replacement=True)
    cr.manual_seed(3)
    assert first.tolist() == cr.multinomial(weights, 1000, replacement=True).tolist()
    assert first.shape == (2, 1000) and first.dtype == np.int64
    assert set(first[1].tolist()) == {0} and 0 not in first[0].tolist()
    assert abs((first[0] == 2).data.mean() - 0.75) < 0.05
    assert sorted(cr.multinomial(cr.tensor([1.0, 2.0, 3.0]), 3).tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement"):
        cr.multinomial(cr.tensor([1.0, 0.0, 1.0]), 3)


def test_dtype_aliases_are_pytorchs():
    for name in ("float", "double", "half", "long", "int", "short", "bool", "cfloat", "cdouble"):
        assert np.dtype(getattr(cr, name)).itemsize == getattr(torch, name).itemsize, name
    assert cr.zeros(2, dtype=cr.long).dtype == np.int64 and cr.tensor([1]).to(cr.float).dtype == np.float32
    assert cr.tensor([1.0]).to(cr.double).dtype == np.float64


def test_zero_dimensional_integer_tensors_index_and_slice():
    data = cr.arange(10)
    cr.manual_seed(0)
    i = cr.randint(0, 5, ())
    assert data[i:i + 3].tolist() == list(range(int(i), int(i) + 3))
    assert np.arange(10)[i:i + 2].tolist() == [int(i), int(i) + 1] and [5, 6, 7][cr.tensor(2)] == 7
    assert data[cr.tensor(4)].item() == 4
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[cr.tensor(1):].sum().backward()
    assert x.grad.tolist() == [0, 1, 1]
    with pytest.raises(TypeError, match="only a 0-d integer tensor can be used as an index"):
        [1, 2][cr.tensor(1.0)]


def test_a_suggestion_is_printed_once():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import chainrule; chainrule.randm"], capture_output=True,
                         text=True).stderr.strip().splitlines()[-1]
    assert out == "AttributeError: module 'chainrule' has no attribute 'randm'; did you mean rand, randn, randperm?"
