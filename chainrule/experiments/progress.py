"""The progress bar shown while an experiment runs."""

from tqdm.auto import tqdm


def progress(iterable, desc, total=None):
    """Iterate over ``iterable`` behind a tqdm progress bar on standard error.

    The bar shows only on a terminal (so tests and piped output stay clean) and is cleared when done.

    Args:
        iterable: what to iterate over.
        desc: the label in front of the bar.
        total: the number of items, when ``iterable`` has no ``len``.

    Returns:
        An iterator over the items of ``iterable``.
    """
    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None, dynamic_ncols=True)
