"""Training checkpoints: the whole state of a run in one safetensors file, written atomically.

The arrays (weights, optimiser buffers) are the file's tensors, named by their path
(``model.0.weight``, ``optimizer.state.0.exp_avg``); epoch, history, random states and the other plain
values travel in its metadata (see :mod:`chainrule.serialization`). One file written to a temporary
name and renamed over the old one means a crash at any moment leaves either the previous checkpoint or
the new one, never a broken one.
"""

from .. import serialization
from ..errors import CheckpointError

FORMAT = "chainrule training checkpoint"
VERSION = 1


def save_checkpoint(state, *paths):
    """Write ``state`` (a dict such as :meth:`Trainer.state_dict` returns) to each of ``paths`` in turn,
    atomically (encoded once)."""
    payload = serialization.encode({"format": FORMAT, "version": VERSION, **state})
    for path in paths:
        serialization.write_atomic(path, payload)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns:
        The state dict, with NumPy arrays; ``["model"]`` is the model's state dict.

    Raises:
        CheckpointError: naming the file, when it is missing, corrupt, or not a training checkpoint.
    """
    try:
        state = serialization.load(path)
    except FileNotFoundError as error:
        raise CheckpointError(f"no checkpoint at {path}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a chainrule training checkpoint")
    if state["version"] != VERSION:
        raise CheckpointError(f"{path} is a version {state['version']} checkpoint; this chainrule reads "
                              f"version {VERSION}")
    return state
