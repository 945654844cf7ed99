"""``python -m chainrule.experiments NAME``: the experiment command without the ``chainrule`` entry point."""

import sys

from .cli import run_cli

sys.exit(run_cli())
