"""The MLP every framework trains, and one training step per framework.

Every framework starts from the same NumPy parameters and sees the same batches. A step is the forward
pass, the mean softmax cross-entropy, the backward pass and an SGD update with momentum in PyTorch's
form ``v = μ v + g``, ``w = w - η v``. :func:`trainer` returns ``(to_batch, step)``: ``to_batch(x, y)``
turns NumPy arrays into the framework's inputs and ``step(*batch)`` trains once and returns the loss
(any object ``float()`` accepts), with the work finished.
"""

import itertools

import numpy as np

MODELS = {"A": (784, 256, 256, 10), "B": (784, 1024, 1024, 10)}
"""The layer widths of the two benchmark models."""

LEARNING_RATE = 0.01
MOMENTUM = 0.9


def init_params(sizes, seed=0):
    """He-normal float32 weights and zero biases: ``[W1, b1, W2, b2, ...]`` with ``W`` of shape (in, out).

    Example:
        >>> [p.shape for p in init_params((3, 4, 2))]
        [(3, 4), (4,), (4, 2), (2,)]
    """
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return params


def random_batch(sizes, batch, seed=1):
    """Standard-normal float32 inputs and uniformly drawn integer labels for a model of ``sizes``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    return x, rng.integers(0, sizes[-1], size=batch)


def mlp_logits(params, x, activation):
    """The logits of the MLP ``params`` (as :func:`init_params` lays them out) with ``activation`` after
    every hidden layer. Works on any array type with ``@``: tensors of every framework, NumPy arrays."""
    for w, b in zip(params[:-2:2], params[1:-2:2], strict=True):
        x = activation(x @ w + b)
    return x @ params[-2] + params[-1]


def sgd_momentum(param, grad, velocity):
    """The momentum update on NumPy arrays, in place."""
    velocity *= MOMENTUM
    velocity += grad
    param -= LEARNING_RATE * velocity


def trainer(framework, params):
    """``(to_batch, step)`` for ``framework`` (one of :data:`TRAINERS`), starting from ``params``."""
    return TRAINERS[framework]([p.copy() for p in params])


def _chainrule(params):
    import chainrule as cr
    model = chainrule_mlp(params)
    optimizer = cr.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def step(x, y):
        optimizer.zero_grad()
        loss = cr.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return lambda x, y: (x, y), step


def _compiled(params):
    """chainrule's step passed to ``chainrule.compile``: recorded on its first call (per batch shape),
    replayed after."""
    import chainrule as cr
    to_batch, step = _chainrule(params)
    return to_batch, cr.compile(step)


def chainrule_mlp(params):
    """chainrule's MLP holding ``params`` (a Linear stores ``W`` transposed)."""
    import chainrule as cr
    sizes = [params[0].shape[0]] + [w.shape[1] for w in params[::2]]
    model = cr.nn.MLP(sizes)
    with cr.no_grad():
        for linear, w, b in zip(model[::2], params[::2], params[1::2], strict=True):
            linear.weight.data[...] = w.T
            linear.bias.data[...] = b
    return model


def _torch(params):
    import torch
    widths = [w.shape for w in params[::2]]
    layers = []
    for fan_in, fan_out in widths:
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for linear, w, b in zip(model[::2], params[::2], params[1::2], strict=True):
            linear.weight.copy_(torch.from_numpy(w.T))
            linear.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def step(x, y):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return lambda x, y: (torch.from_numpy(x), torch.from_numpy(y)), step


def _jax(params):
    import jax
    import jax.numpy as jnp

    def loss_fn(weights, x, y):
        log_probs = jax.nn.log_softmax(mlp_logits(weights, x, jax.nn.relu))
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    def update(weights, velocities, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(weights, x, y)
        velocities = [MOMENTUM * v + g for v, g in zip(velocities, grads, strict=True)]
        weights = [w - LEARNING_RATE * v for w, v in zip(weights, velocities, strict=True)]
        return weights, velocities, loss

    update = jax.jit(update, donate_argnums=(0, 1))
    state = [[jnp.asarray(p) for p in params], [jnp.zeros(p.shape, p.dtype) for p in params]]

    def step(x, y):
        state[0], state[1], loss = update(state[0], state[1], x, y)
        return loss.block_until_ready()
    return lambda x, y: (jnp.asarray(x), jnp.asarray(y)), step


def _autograd(params):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    def loss_fn(weights, x, y):
        logits = mlp_logits(weights, x, lambda z: anp.maximum(z, 0.0))
        log_probs = logits - logsumexp(logits, axis=1, keepdims=True)
        return -anp.mean(log_probs[anp.arange(len(y)), y])

    loss_and_grads = autograd.value_and_grad(loss_fn)
    velocities = [np.zeros_like(p) for p in params]

    def step(x, y):
        loss, grads = loss_and_grads(params, x, y)
        for w, g, v in zip(params, grads, velocities, strict=True):
            sgd_momentum(w, g, v)
        return loss
    return lambda x, y: (x, y), step


def _numpy(params):
    velocities = [np.zeros_like(p) for p in params]

    def step(x, y):
        # Forward, keeping every layer's input; ReLU in place on the pre-activations.
        inputs = [x]
        for w, b in zip(params[:-2:2], params[1:-2:2], strict=True):
            z = inputs[-1] @ w
            z += b
            inputs.append(np.maximum(z, 0, out=z))
        logits = inputs[-1] @ params[-2]
        logits += params[-1]
        # Softmax cross-entropy; its gradient with respect to the logits is (softmax - onehot) / n.
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        loss = -np.log(probs[rows, y]).mean()
        probs[rows, y] -= 1
        probs /= len(y)
        # Backward, layer by layer: dW = inputᵀ g, db = Σ g, g_input = g Wᵀ masked by ReLU's slope.
        g = probs
        for layer in reversed(range(len(params) // 2)):
            w, b = params[2 * layer], params[2 * layer + 1]
            g_w, g_b = inputs[layer].T @ g, g.sum(axis=0)
            if layer:
                g = g @ w.T
                g *= inputs[layer] > 0
            sgd_momentum(w, g_w, velocities[2 * layer])
            sgd_momentum(b, g_b, velocities[2 * layer + 1])
        return loss
    return lambda x, y: (x, y), step


TRAINERS = {"chainrule": _chainrule, "compiled": _compiled, "torch": _torch, "jax": _jax,
            "autograd": _autograd, "numpy": _numpy}
"""The training step of each framework, keyed by the runner's framework names."""
