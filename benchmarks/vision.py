"""Workload ``vision``: convolution and pooling, chainrule against PyTorch eager (oneDNN) and JAX jit.

Four cases, float32, the same parameters (PyTorch's ``state_dict`` loaded into chainrule's model) and
the same batch: a training step (cross-entropy, plain SGD) of the MNIST-1D paper's CNN at batch 100 and
of a LeNet-5-style CNN on 28x28 images at batch 128; the forward and backward pass of one 3x3, 64→64
convolution on 32x32 maps at batch 32 (input and weight gradients); the forward and backward pass of a
2x2 max-pool on the same maps. JAX jits the whole step (``lax.conv_general_dilated``,
``lax.reduce_window``). chainrule compiled: chainrule's training step passed to ``chainrule.compile``
(recorded on the first call, replayed after; the two training steps only), against chainrule eager in
"compiled / eager". Memory: the peak resident memory one steady step adds (see :mod:`benchmarks.memory`);
"memory ratio" is chainrule eager's over PyTorch's.
"""

import numpy as np

from benchmarks import compiled, timing
from benchmarks.memory import peak_added_mib
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "compiled", "torch", "jax")
CASES = ("mnist1d-cnn", "lenet5", "conv3x3", "maxpool2x2")
TRAINING_CASES = CASES[:2]
TIME_GOALS = {"mnist1d-cnn": 1.0, "lenet5": 1.0, "conv3x3": 1.0, "maxpool2x2": 0.7}  # issue 22
MEMORY_GOAL = 1.5
LEARNING_RATE = 0.01
DESCRIPTIONS = {
    "mnist1d-cnn": "MNIST-1D CNN (3 conv1d, 25 channels) step, batch 100",
    "lenet5": "LeNet-5-style step, 28x28, batch 128",
    "conv3x3": "conv 3x3 64→64, 32x32, batch 32, fwd+bwd",
    "maxpool2x2": "max-pool 2x2, 64x32x32, batch 32, fwd+bwd",
}


def cases(quick):
    """Every case in both modes (each is one step)."""
    return [{"case": name} for name in CASES]


def _network(lib, name):
    """The model of a training case, built from ``lib`` (``torch.nn`` or ``chainrule.nn``)."""
    if name == "mnist1d-cnn":
        return lib.Sequential(lib.Conv1d(1, 25, 5, stride=2, padding=1), lib.ReLU(),
                              lib.Conv1d(25, 25, 3, stride=2, padding=1), lib.ReLU(),
                              lib.Conv1d(25, 25, 3, stride=2, padding=1), lib.ReLU(),
                              lib.Flatten(), lib.Linear(125, 10))
    return lib.Sequential(lib.Conv2d(1, 6, 5, padding=2), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(6, 16, 5), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
                          lib.Linear(16 * 5 * 5, 120), lib.ReLU(), lib.Linear(120, 84), lib.ReLU(),
                          lib.Linear(84, 10))


def _inputs(name):
    rng = np.random.default_rng(0)
    if name == "mnist1d-cnn":
        return rng.normal(size=(100, 1, 40)).astype(np.float32), rng.integers(0, 10, 100)
    if name == "lenet5":
        return rng.normal(size=(128, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 128)
    x = rng.normal(size=(32, 64, 32, 32)).astype(np.float32)
    weight = (rng.normal(size=(64, 64, 3, 3)) / 24).astype(np.float32)
    return x, weight


def _torch_step(name):
    import torch
    torch.manual_seed(0)
    a, b = _inputs(name)
    if name in ("conv3x3", "maxpool2x2"):
        x = torch.tensor(a, requires_grad=True)
        weight = torch.tensor(b, requires_grad=True)

        def layer_step():
            x.grad = weight.grad = None
            y = (torch.nn.functional.conv2d(x, weight, padding=1) if name == "conv3x3"
                 else torch.nn.functional.max_pool2d(x, 2))
            loss = (y * y).mean()
            loss.backward()
            return loss.item()
        return layer_step
    model, x, labels = _network(torch.nn, name), torch.tensor(a), torch.tensor(b)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def _reference_state(name):
    """PyTorch's initial parameters of a training case, as NumPy arrays (torch imported only here)."""
    import torch
    torch.manual_seed(0)
    return {key: value.numpy() for key, value in _network(torch.nn, name).state_dict().items()}


def _chainrule_step(name, compile_step=False):
    """chainrule's step of case ``name``; a training step passed to ``chainrule.compile`` when
    ``compile_step``."""
    import chainrule as cr
    import chainrule.nn.functional as F
    a, b = _inputs(name)
    if name in ("conv3x3", "maxpool2x2"):
        x, weight = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)

        def layer_step():
            x.grad = weight.grad = None
            y = F.conv2d(x, weight, padding=1) if name == "conv3x3" else F.max_pool2d(x, 2)
            loss = (y * y).mean()
            loss.backward()
            return loss.item()
        return layer_step
    model = _network(cr.nn, name)
    try:
        model.load_state_dict(_reference_state(name))
    except ImportError:
        pass
    optimizer = cr.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def step(x, labels):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss
    step = cr.compile(step) if compile_step else step
    return lambda: step(a, b).item()


def _jax_step(name):
    import jax
    import jax.numpy as jnp
    a, b = _inputs(name)

    def conv(x, weight, bias=None, stride=1, padding=0):
        spatial = x.ndim - 2
        layout = ("NCH", "OIH", "NCH") if spatial == 1 else ("NCHW", "OIHW", "NCHW")
        y = jax.lax.conv_general_dilated(x, weight, (stride,) * spatial, [(padding, padding)] * spatial,
                                         dimension_numbers=layout)
        return y if bias is None else y + bias.reshape((-1,) + (1,) * spatial)

    def max_pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    if name in ("conv3x3", "maxpool2x2"):
        def layer_loss(x, weight):
            y = conv(x, weight, padding=1) if name == "conv3x3" else max_pool(x)
            return jnp.mean(y * y)
        gradients = jax.jit(jax.value_and_grad(layer_loss, argnums=(0, 1)))
        x, weight = jnp.asarray(a), jnp.asarray(b)
        return lambda: float(gradients(x, weight)[0].block_until_ready())

    relu = jax.nn.relu

    def logits(p, x):
        if name == "mnist1d-cnn":
            for i in (0, 2, 4):
                x = relu(conv(x, p[f"{i}.weight"], p[f"{i}.bias"], stride=2, padding=1))
            return x.reshape(x.shape[0], -1) @ p["7.weight"].T + p["7.bias"]
        x = max_pool(relu(conv(x, p["0.weight"], p["0.bias"], padding=2)))
        x = max_pool(relu(conv(x, p["3.weight"], p["3.bias"])))
        x = relu(x.reshape(x.shape[0], -1) @ p["7.weight"].T + p["7.bias"])
        x = relu(x @ p["9.weight"].T + p["9.bias"])
        return x @ p["11.weight"].T + p["11.bias"]

    def loss_fn(p, x, y):
        log_probs = jax.nn.log_softmax(logits(p, x))
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    def update(p, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        return {k: p[k] - LEARNING_RATE * grads[k] for k in p}, loss

    update = jax.jit(update, donate_argnums=(0,))
    state = [{k: jnp.asarray(v) for k, v in _reference_state(name).items()}]
    x, labels = jnp.asarray(a), jnp.asarray(b)

    def step():
        state[0], loss = update(state[0], x, labels)
        return float(loss.block_until_ready())
    return step


STEPS = {"chainrule": _chainrule_step, "torch": _torch_step, "jax": _jax_step}


def measure_case(framework, case, budget):
    if framework == "compiled":
        if case["case"] not in TRAINING_CASES:
            return None
        step = _chainrule_step(case["case"], compile_step=True)
    else:
        step = STEPS[framework](case["case"])
    losses = [float(step()) for _ in range(2)]
    memory = [peak_added_mib(step) for _ in range(budget.min_repeats)]
    return timing.measure(step, budget) | {"losses": losses, "steady_mib": float(np.median(memory))}


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        where = DESCRIPTIONS[case["case"]]
        goals = [Goal(where, "PyTorch", results.ratio("chainrule", "torch", index), TIME_GOALS[case["case"]]),
                 Goal(where + " (memory)", "PyTorch",
                      results.ratio("chainrule", "torch", index, "steady_mib"), MEMORY_GOAL)]
        if case["case"] in TRAINING_CASES:
            goals.append(compiled.eager_goal(where, results, index))
        all_goals += goals
        rows.append([where] + [results.time_cell(f, index) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", index)),
                       format_ratio(results.ratio("chainrule", "jax", index)),
                       format_ratio(results.ratio("compiled", "chainrule", index))]
                    + [results.cell(f, index, "steady_mib", " MiB") for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", index, "steady_mib")),
                       ", ".join(goal.target for goal in goals), overall_status(goals)])
    headers = (["case"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / PyTorch", "chainrule / JAX", "compiled / eager"]
               + [f"{FRAMEWORK_NAMES[f]} memory" for f in FRAMEWORKS] + ["memory ratio", "goal", "status"])
    return [Table("Vision: convolution and pooling", __doc__.split("\n\n")[1].replace("\n", " "), headers,
                  rows, all_goals)]


def min_cpu_times(repeats=20):
    """The least CPU time of one step per case and framework, in ms, all in this process with one
    thread each: robust on a busy machine, where wall-clock medians are not."""
    import time

    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    table = {}
    with threadpool_limits(limits=1):
        for name in CASES:
            for framework, make in STEPS.items():
                step = make(name)
                step()
                best = float("inf")
                for _ in range(3 if name == "conv3x3" else repeats):
                    start = time.process_time()
                    step()
                    best = min(best, time.process_time() - start)
                table[name, framework] = best * 1e3
    return table


if __name__ == "__main__":
    times = min_cpu_times()
    for name in CASES:
        ours, torch_ms, jax_ms = (times[name, f] for f in STEPS)
        print(f"{DESCRIPTIONS[name]}: chainrule {ours:.2f} ms, PyTorch {torch_ms:.2f} ms, JAX "
              f"{jax_ms:.2f} ms; {ours / torch_ms:.2f}x PyTorch, {ours / jax_ms:.2f}x JAX")
