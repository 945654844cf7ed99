"""``chainrule rules`` and ``chainrule graph``: the primitives' rules, a trained run's graph."""

from pathlib import Path

import numpy as np

from ..errors import ChainruleError
from .registry import command, run_dir_argument


@command("rules", "print which primitives have reverse-mode and forward-mode rules", lambda parser: None)
def _rules(args):
    from ..coverage import format_rules
    print(format_rules())
    return 0


def _graph_arguments(parser):
    run_dir_argument(parser)
    parser.add_argument("--out", metavar="FILE", help="picture to write, .svg or .png (default: "
                        "RUN_DIR/graph.svg); the DOT source is written beside it as .dot")
    parser.add_argument("--examples", type=int, default=4, metavar="N",
                        help="how many test examples the pictured batch holds (default: 4)")


@command("graph", "draw a trained run's forward and backward graph for a small batch", _graph_arguments)
def _graph(args):
    from ..inspect import graph
    from ..inspect.graphs import GraphvizNotInstalled
    from ..serialization import write_atomic
    from ..train.runs import ConfigError, build_loss, load_run, model_info, prepare_data
    if args.examples < 1:
        raise ConfigError(f"--examples must be a positive number of examples, not {args.examples}")
    config, record, _, model = load_run(args.run_dir)
    data = prepare_data(config)
    if data.task == "language-model":  # a few windows of the validation text, cut to 8 characters
        from ..data.shakespeare import get_batch
        x, y = get_batch(data.parts["val"], min(8, config.options["block_size"]), args.examples,
                         np.random.default_rng(0))
        function = lambda x, y: model(x, y)[1]  # noqa: E731 (the GPT computes its own loss)
    else:
        x, y = (part[:args.examples] for part in data.parts["test"])
        loss = build_loss(config, model_info(record))
        function = lambda x, y: loss(model(x), y)  # noqa: E731
    picture = graph(function, x, y, model=model)
    out = Path(args.out or Path(args.run_dir) / "graph.svg")
    dot_path = out.with_suffix(".dot")
    write_atomic(dot_path, picture.source)
    try:
        write_atomic(out, picture.pipe(format=out.suffix[1:] or "svg"))
    except GraphvizNotInstalled as error:
        raise ChainruleError(f"wrote {dot_path} but not {out}: {error}") from None
    print(f"wrote {out} and {dot_path}")
    return 0
