"""``chainrule generate``: text sampled from a trained language model."""

import sys
from pathlib import Path

from .registry import command


def _generate_arguments(parser):
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run of `chainrule train --model gpt`")
    parser.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    parser.add_argument("--tokens", type=int, default=300, metavar="N",
                        help="how many characters to add, printed as they are sampled (default 300)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="a positive number dividing the scores: below 1 more conservative, above 1 more "
                             "adventurous (default 1)")
    parser.add_argument("--top-k", type=int, default=None, metavar="K",
                        help="sample only among the K most likely characters, K at least 1 (default: all of "
                             "them; unlike PyTorch's and Hugging Face's top_k=0, 0 is refused)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed gives the same text")


@command("generate", "sample text from a trained language model (one cached step per character)",
         _generate_arguments)
def _generate(args):
    import math

    from ..train.runs import ConfigError, stream_run_text
    if args.tokens < 0:
        raise ConfigError(f"--tokens must be 0 or more characters, not {args.tokens}")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise ConfigError(f"--temperature must be a positive number, not {args.temperature:g} (below 1 is more "
                          f"conservative; for the likeliest character alone use --top-k 1)")
    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, not {args.top_k} (leave it out to sample among all "
                          f"characters)")
    for piece in stream_run_text(args.run_dir, args.prompt, args.tokens, args.temperature, args.top_k, args.seed):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
