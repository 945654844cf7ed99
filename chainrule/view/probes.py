"""The model views of the page, each a JSON-ready dict computed from a run's model: the graph as SVG,
a convolution's filters and feature maps, attention weights of a prompt, the compiled program."""

import sysconfig

import numpy as np

from ..core.graph import no_grad
from ..core.tensor import Tensor
from ..inspect import GraphvizNotInstalled, graph
from ..inspect._observers import observing
from .loading import NotAvailable, example, load

MAX_PROMPT = 200
MAX_MAPS = 64


def model_graph(run):
    """The graph of one example's loss (a language model: its logits) as SVG, parameters named by the
    model's names, with the gradient norms after a backward pass; the DOT source without Graphviz."""
    loaded = load(run)
    model = loaded.model
    if loaded.examples is None:  # a language model: the loss of its first 8 training characters
        ids = np.asarray(loaded.data.parts["train"][:9], dtype=np.int64)
        picture = graph(lambda idx, targets: model(idx, targets)[1], Tensor(ids[None, :-1]),
                        Tensor(ids[None, 1:]), model=model)
        what = f"the next-character loss of {''.join(loaded.chars[i] for i in ids)!r}"
    else:
        x, y = example(loaded, 0)
        picture = graph(lambda x, y: loaded.loss(model(x), y), Tensor(x), Tensor(y), model=model)
        what = "the loss of test example 0"
    try:
        svg = picture.pipe(format="svg").decode("utf-8")
    except GraphvizNotInstalled as error:
        return {"what": what, "svg": None, "dot": picture.source, "message": str(error)}
    return {"what": what, "svg": svg[svg.index("<svg"):], "dot": picture.source}


def _first_convolution(model):
    from ..nn.conv import Conv1d, Conv2d
    for name, module in model.named_modules():
        if isinstance(module, (Conv1d, Conv2d)):
            return f"{name}.weight", module.weight
    raise NotAvailable("this model has no convolution: filters and feature maps are for CNN runs")


def filters(run):
    """The first convolution's kernels ``(out, in, *kernel)``, with the range of their values."""
    name, weight = _first_convolution(load(run).model)
    values = weight.data
    return {"name": name, "shape": list(values.shape), "values": _rounded(values),
            "limit": float(np.abs(values).max())}


def feature_maps(run, index):
    """Test example ``index``, the model's prediction, and the first convolution's outputs on it
    (before the activation), one map per output channel."""
    loaded = load(run)
    name, weight = _first_convolution(loaded.model)
    x, y = example(loaded, index)
    maps = []

    def keep_first_convolution(prim, inputs, out, params):
        if not maps and prim.name.startswith("conv") and any(value is weight for value in inputs):
            maps.append(out.data[0])

    with no_grad(), observing(on_forward=keep_first_convolution):
        outputs = loaded.model(Tensor(x)).data
    if not maps:
        raise NotAvailable(f"the forward pass did not apply {name}")
    found = maps[0][:MAX_MAPS]
    return {"index": index, "label": _item(y[0]), "prediction": _item(outputs[0].argmax()),
            "input": _rounded(x[0]), "layer": name, "maps": _rounded(found),
            "limit": float(np.abs(found).max()) or 1.0, "count": len(loaded.examples[1])}


def attention(run, prompt):
    """The attention weights of each layer and head for ``prompt``, read from the attention primitive's
    inputs as the model runs (the fused primitive never stores them)."""
    from ..ops.attention import attention_weights
    loaded = load(run)
    if loaded.chars is None:
        raise NotAvailable("attention weights are for transformer runs (--model gpt or transformer)")
    if not isinstance(prompt, str) or not prompt:
        raise NotAvailable("type a prompt")
    ids, dropped = encode(loaded.chars, prompt[:MAX_PROMPT])
    block = _block_size(loaded.model)
    cut = len(ids) > block
    ids = ids[-block:]
    if len(ids) == 0:
        raise NotAvailable(f"none of the prompt's characters is in the model's vocabulary "
                           f"{''.join(loaded.chars)!r}")
    layers = []

    def keep_weights(prim, inputs, out, params):
        if prim.name == "attention":
            query, key, _, bias, keep, _ = (getattr(value, "data", value) for value in inputs)
            weights = np.asarray(attention_weights(query, key, bias, keep, params["scale"]))
            layers.append(_rounded(weights[0]))

    with no_grad(), observing(on_forward=keep_weights):
        loaded.model(Tensor(ids[None]))
    return {"tokens": [loaded.chars[i] for i in ids], "layers": layers, "cut": cut, "dropped": dropped}


def encode(chars, text):
    """The ids of ``text``'s characters that are in ``chars``, and the characters left out."""
    index = {char: i for i, char in enumerate(chars)}
    ids = np.array([index[char] for char in text if char in index], dtype=np.int64)
    return ids, "".join(sorted(set(text) - index.keys()))


def _block_size(model):
    config = getattr(model, "config", None) or getattr(getattr(model, "gpt", None), "config", None)
    return getattr(config, "block_size", MAX_PROMPT)


def program_listing(run):
    """The program ``chainrule.compile`` records for one training step of the run (compiled runs), on
    a copy of the run's model (the step updates the weights)."""
    import copy

    from ..inspect import program
    from ..train.build import build_loop
    loaded = load(run)
    if not getattr(loaded.config, "compile", False):
        raise NotAvailable("this run was not compiled (chainrule train --compile): no program to list")
    model = copy.deepcopy(loaded.model)
    loop = build_loop(loaded.config, model, loaded.loss, loaded.data, None, False, None)
    if loaded.examples is None:  # a language model: one batch of random windows
        x, y = loop.sample(loaded.data.parts["train"], np.random.default_rng(0))
    else:
        x, y = loaded.examples
        batch = min(loaded.config.batch_size, len(y))
        x, y = x[:batch], y[:batch]
    model.train()
    listing = program(loop._update, x, y)
    # The step is chainrule's own, so the nearest line outside chainrule is the web server's: say none.
    stdlib = sysconfig.get_paths()["stdlib"]
    for op in listing.ops:
        if op.site is not None and op.site[0].startswith(stdlib):
            op.site = None
    return {"listing": str(listing), "source": listing.source(), "batch": len(y)}


def _rounded(values, digits=5):
    """An array as nested lists of floats rounded to ``digits`` significant figures (smaller JSON)."""
    values = np.asarray(values, dtype=np.float64)
    scale = np.abs(values).max() if values.size else 0.0
    if not np.isfinite(scale) or scale == 0:
        return np.nan_to_num(values).tolist()
    decimals = max(0, digits - int(np.floor(np.log10(scale))) - 1)
    return np.round(values, decimals).tolist()


def _item(value):
    value = np.asarray(value)
    return value.item() if value.size == 1 else value.tolist()
