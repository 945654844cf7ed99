"""The history of a training run: one record of metrics per epoch, saved as JSON or CSV."""

import csv
import io
import json
from pathlib import Path

from ..serialization import Plain, write_atomic


class History:
    """Metrics per epoch, kept as a list of dicts (``records``) and read by metric name.

    Args:
        records: initial records, each a dict such as ``{"epoch": 1, "loss": 0.3, "val_loss": 0.4}``.

    Example:
        >>> history = History()
        >>> history.append({"epoch": 1, "loss": 0.9})
        >>> history.append({"epoch": 2, "loss": 0.5, "val_loss": 0.6})
        >>> history["loss"], history["val_loss"]
        ([0.9, 0.5], [None, 0.6])
        >>> history.metrics()
        ['epoch', 'loss', 'val_loss']
    """

    def __init__(self, records=()):
        self.records = [dict(record) for record in records]
        self._plain = []

    def append(self, record):
        """Add the record of one epoch (a copy; records are not changed once added)."""
        self.records.append(dict(record))

    def plain(self):
        """The records as :class:`~chainrule.serialization.Plain` values, each described once: a
        checkpoint saves them without describing the whole history again at every epoch."""
        kept = self._plain
        if len(kept) > len(self.records) or any(p.value is not r for p, r in zip(kept, self.records)):
            kept.clear()
        kept.extend(Plain(record) for record in self.records[len(kept):])
        return list(kept)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, metric):
        """The values of ``metric`` epoch by epoch (``None`` where an epoch lacks it)."""
        return [record.get(metric) for record in self.records]

    def __contains__(self, metric):
        return any(metric in record for record in self.records)

    def metrics(self):
        """The metric names, in the order they first appear."""
        return list(dict.fromkeys(name for record in self.records for name in record))

    def to_json(self, path):
        """Write the records as a JSON list of objects."""
        write_atomic(path, json.dumps(self.records, indent=1) + "\n")

    @classmethod
    def from_json(cls, path):
        """Read a history written by :meth:`to_json`."""
        return cls(json.loads(Path(path).read_text()))

    def to_csv(self, path):
        """Write one row per epoch and one column per metric (lists, such as per-class accuracy, are
        left to the JSON file)."""
        names = [name for name in self.metrics()
                 if not any(isinstance(value, (list, dict)) for value in self[name])]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.records)
        write_atomic(path, text.getvalue())
