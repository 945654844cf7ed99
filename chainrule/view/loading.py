"""A run's model, loss and test examples, rebuilt from its directory as ``chainrule evaluate`` does,
and kept while the checkpoint stays the same (a new checkpoint of a run in progress reloads it)."""

import dataclasses
import threading

from ..errors import ChainruleError
from .rundir import Refused

_CACHE, _LOCK = {}, threading.Lock()


@dataclasses.dataclass
class LoadedRun:
    """What the model views need of a run.

    Attributes:
        kind: as :func:`chainrule.view.rundir.run_kind` says.
        model: the model with the best (else the last) checkpoint's weights, in evaluation mode.
        config: the run's settings object.
        loss: ``loss(outputs, targets)``, or ``None`` for a language model.
        examples: ``(x, y)`` test examples as the model takes them (``None`` for a language model).
        chars: the characters of a model that reads characters (its ids are their positions), else
            ``None``.
        data: the run's :class:`~chainrule.train.prepare.PreparedData`.
    """

    kind: str
    model: object
    config: object
    loss: object
    examples: tuple | None
    chars: list | None = None
    data: object = None


class NotAvailable(ChainruleError):
    """A view that this run cannot show yet (or ever): the message says why, the page shows it."""


def load(run):
    """The :class:`LoadedRun` of a :class:`~chainrule.view.rundir.RunDirectory`, cached per checkpoint.

    Raises:
        NotAvailable: before the first checkpoint, or when the run cannot be rebuilt.
    """
    version = run.version()
    if version is None:
        raise NotAvailable("no checkpoint yet: the model's views appear when the first epoch (or "
                           "evaluation) has finished")
    with _LOCK:
        cached = _CACHE.get(run.root)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            loaded = _load(run)
        except (ChainruleError, KeyError, ValueError, OSError) as error:
            if isinstance(error, Refused):
                raise
            raise NotAvailable(f"cannot rebuild the model of {run.name}: {error}") from error
        _CACHE[run.root] = (version, loaded)
        return loaded


def _load(run):
    from ..train.prepare import prepare_data
    from ..train.runs import build_loss, load_run, model_info
    from ..train.settings import model_entry
    config, record, _, model = load_run(run.root)
    data = prepare_data(config)
    entry = model_entry(config.model)
    vocabulary = record["data"].get("vocabulary")
    reads_characters = entry.inputs == "text" or config.model == "transformer"
    chars = list(vocabulary) if reads_characters and vocabulary is not None else None
    examples = data.parts["test"] if entry.inputs != "text" else None
    kind = "lm" if entry.loop == "iterations" else config.model
    loss = build_loss(config, model_info(record))
    return LoadedRun(kind, model.eval(), config, loss, examples, chars, data)


def example(loaded, index):
    """Test example ``index`` as a batch of one, and its label."""
    if loaded.examples is None:
        raise NotAvailable("this run keeps no test examples (a language model: type a prompt instead)")
    x, y = loaded.examples
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(y):
        raise NotAvailable(f"example must be an index from 0 to {len(y) - 1}, not {index!r}")
    return x[index:index + 1], y[index:index + 1]
