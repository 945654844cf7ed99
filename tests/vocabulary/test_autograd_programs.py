"""Classic HIPS autograd programs, written once against a NumPy-like module ``np``: run with NumPy they
give values (and central differences), run with ``chainrule.numpy`` they give gradients. Only the
module changes, as when one edits ``import autograd.numpy as np`` into ``import chainrule.numpy as np``."""

import numpy
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def programs(np):
    """The programs, each a scalar function of one parameter vector."""
    rng = numpy.random.default_rng(0)
    inputs = rng.standard_normal((20, 3))
    targets = (inputs @ numpy.array([1.0, -2.0, 0.5]) > 0).astype(float)

    def sigmoid(x):
        return 0.5 * (np.tanh(x / 2.0) + 1)

    def logistic_regression_loss(weights):
        predictions = sigmoid(np.dot(inputs, weights))
        label_probabilities = predictions * targets + (1 - predictions) * (1 - targets)
        return -np.sum(np.log(label_probabilities))

    layer_sizes = [3, 4, 2]
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))

    def unpack(flat):
        params, start = [], 0
        for m, n in shapes:
            weights = np.reshape(flat[start:start + m * n], (m, n))
            biases = flat[start + m * n:start + m * n + n]
            params.append((weights, biases))
            start += m * n + n
        return params

    def neural_net_loss(flat):
        activations = inputs
        for weights, biases in unpack(flat):
            outputs = np.dot(activations, weights) + biases
            activations = np.tanh(outputs)
        log_probs = outputs - np.log(np.sum(np.exp(outputs), axis=1, keepdims=True))
        labels = np.stack([targets, 1 - targets], axis=1)
        return -np.mean(np.sum(log_probs * labels, axis=1))

    x_train = numpy.linspace(-2, 2, 8)[:, None]
    y_train = numpy.sin(2 * x_train[:, 0]) + 0.1 * rng.standard_normal(8)

    def gp_negative_log_marginal_likelihood(log_params):
        variance, lengthscale, noise = np.exp(log_params[0]), np.exp(log_params[1]), np.exp(log_params[2])
        squared = np.sum((x_train[:, None, :] - x_train[None, :, :]) ** 2, axis=2)
        kernel = variance * np.exp(-0.5 * squared / lengthscale ** 2) + (noise + 1e-6) * np.eye(len(y_train))
        cholesky = np.linalg.cholesky(kernel)
        alpha = np.linalg.solve(cholesky.T, np.linalg.solve(cholesky, y_train))
        return (0.5 * np.dot(y_train, alpha) + np.sum(np.log(np.diag(cholesky)))
                + 0.5 * len(y_train) * np.log(2 * np.pi))

    def logsumexp(x):
        biggest = np.max(x)
        return biggest + np.log(np.sum(np.exp(x - biggest)))

    return {"logistic_regression": (logistic_regression_loss, rng.standard_normal(3)),
            "neural_net": (neural_net_loss, 0.5 * rng.standard_normal(3 * 4 + 4 + 4 * 2 + 2)),
            "gp_marginal_likelihood": (gp_negative_log_marginal_likelihood, numpy.array([0.1, -0.3, -1.5])),
            "logsumexp": (logsumexp, rng.standard_normal(5))}


def _central_differences(f, x, eps=1e-6):
    basis = numpy.eye(len(x))
    return numpy.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in basis])


@pytest.mark.parametrize("name", sorted(programs(numpy)))
def test_gradient_matches_numpy_central_differences(name):
    f_numpy, x = programs(numpy)[name]
    f_chainrule, _ = programs(cnp)[name]
    assert f_chainrule(x).item() == pytest.approx(f_numpy(x), rel=1e-12)
    numpy.testing.assert_allclose(cr.grad(f_chainrule)(x).data, _central_differences(f_numpy, x),
                                  rtol=1e-6, atol=1e-7)


def test_hessian_of_logsumexp_matches_central_differences_of_its_gradient():
    f_chainrule, x = programs(cnp)["logsumexp"]
    hessian = cr.hessian(f_chainrule)(x).data
    softmax = numpy.exp(x - numpy.max(x)) / numpy.sum(numpy.exp(x - numpy.max(x)))
    numpy.testing.assert_allclose(hessian, numpy.diag(softmax) - numpy.outer(softmax, softmax), atol=1e-12)
    numpy.testing.assert_allclose(hessian, _central_differences(lambda v: cr.grad(f_chainrule)(v).data, x),
                                  atol=1e-7)
