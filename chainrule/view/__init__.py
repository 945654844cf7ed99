"""The machinery in the browser: ``chainrule view RUN_DIR [RUN_DIR ...]`` serves a page over run
directories, following runs while they train: learning curves side by side, gradient flow over
training, the model's graph, a CNN's filters and feature maps, a transformer's attention weights of a
typed prompt, a compiled run's program, and one step of backpropagation for a small MLP, frame by frame.

Nothing else in chainrule imports this package. See docs/view.md.
"""

from .rundir import RunDirectory
from .server import ViewServer, serve

__all__ = ["RunDirectory", "ViewServer", "serve"]
