"""Workload ``recurrent``: one training step of an LSTM and a GRU layer, chainrule against PyTorch eager.

The step is the layer's forward pass over the whole sequence (zero initial state), the mean of the
squared outputs, the backward pass and plain SGD, in float32, from the same parameters (PyTorch's
``state_dict`` loaded into chainrule's layer) and the same batch. PyTorch runs its C++ loop (``nn.LSTM``,
``nn.GRU``); chainrule computes the input projection of every step as one product and the recurrence
as one fused scan primitive; chainrule compiled is chainrule's step passed to ``chainrule.compile``
(recorded on the first call, replayed after), against chainrule eager in "compiled / eager". Memory: the
peak resident memory one steady step adds (see :mod:`benchmarks.memory`); "memory ratio" is chainrule
eager's over PyTorch's.
"""

import numpy as np

from benchmarks import compiled, timing
from benchmarks.memory import peak_added_mib
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "compiled", "torch")
SHAPES = ((50, 64, 64, 128), (200, 32, 128, 256))  # (sequence, batch, input, hidden)
TIME_GOAL, MEMORY_GOAL = 1.5, 2.0
COMPILED_GOAL = 1.0
"""Issue 21: the compiled step at most PyTorch eager's time."""
LEARNING_RATE = 0.01
CHECKED_STEPS = 2


def cases(quick):
    """Both layers at both shapes; the small shape alone when ``quick``."""
    shapes = SHAPES[:1] if quick else SHAPES
    return [{"layer": layer, "seq": t, "batch": b, "input": i, "hidden": h}
            for (t, b, i, h) in shapes for layer in ("LSTM", "GRU")]


def _torch_layer(case):
    import torch
    torch.manual_seed(0)
    return getattr(torch.nn, case["layer"])(case["input"], case["hidden"])


def _step(framework, case):
    x = np.random.default_rng(0).normal(size=(case["seq"], case["batch"], case["input"])).astype(np.float32)
    reference = _torch_layer(case) if framework == "torch" else None
    if framework == "torch":
        import torch
        layer, x = reference, torch.tensor(x)

        def step():
            layer.zero_grad()
            output, _ = layer(x)
            loss = output.pow(2).mean()
            loss.backward()
            with torch.no_grad():
                for parameter in layer.parameters():
                    parameter -= LEARNING_RATE * parameter.grad
            return loss.item()
        return step
    import chainrule as cr
    layer = getattr(cr.nn, case["layer"])(case["input"], case["hidden"])
    state = _reference_state(case)
    if state is not None:  # without PyTorch, chainrule's own initial parameters (same distribution)
        layer.load_state_dict(state)
    optimizer = cr.optim.SGD(layer.parameters(), lr=LEARNING_RATE)

    def step(sequence):
        optimizer.zero_grad()
        output, _ = layer(sequence)
        loss = (output * output).mean()
        loss.backward()
        optimizer.step()
        return loss
    step = cr.compile(step) if framework == "compiled" else step
    return lambda: step(x).item()


def _reference_state(case):
    """PyTorch's initial parameters for this case, as NumPy arrays (torch is imported only here)."""
    try:
        return {name: value.detach().numpy() for name, value in _torch_layer(case).state_dict().items()}
    except ImportError:
        return None


def measure_case(framework, case, budget):
    step = _step(framework, case)
    losses = [float(step()) for _ in range(CHECKED_STEPS)]
    memory = [peak_added_mib(step) for _ in range(budget.min_repeats)]
    return timing.measure(step, budget) | {"losses": losses, "steady_mib": float(np.median(memory))}


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        where = f"{case['layer']} step, seq {case['seq']}, batch {case['batch']}, hidden {case['hidden']}"
        goals = [Goal(where, "PyTorch", results.ratio("chainrule", "torch", index), TIME_GOAL),
                 Goal(where + " (memory)", "PyTorch",
                      results.ratio("chainrule", "torch", index, "steady_mib"), MEMORY_GOAL),
                 Goal(where + " (compiled)", "PyTorch", results.ratio("compiled", "torch", index),
                      COMPILED_GOAL),
                 compiled.eager_goal(where, results, index)]
        all_goals += goals
        rows.append([case["layer"], f"{case['seq']}×{case['batch']}×{case['input']}→{case['hidden']}"]
                    + [results.time_cell(f, index) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", index)),
                       format_ratio(results.ratio("compiled", "torch", index)),
                       format_ratio(results.ratio("compiled", "chainrule", index))]
                    + [results.cell(f, index, "steady_mib", " MiB") for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", index, "steady_mib")),
                       ", ".join(goal.target for goal in goals), overall_status(goals)])
    headers = (["layer", "seq×batch×in→hidden"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / PyTorch", "compiled / PyTorch", "compiled / eager"]
               + [f"{FRAMEWORK_NAMES[f]} memory" for f in FRAMEWORKS]
               + ["memory ratio", "goal", "status"])
    return [Table("Recurrent layers: training step", __doc__.split("\n\n")[1].replace("\n", " "), headers,
                  rows, all_goals)]
