"""Registries filled by other modules: import the modules that register entries, once, on first use."""

import importlib

_tried = set()


def import_providers(modules):
    """Import each module named in ``modules`` (which registers its entries when imported), each
    only the first time it is named.

    A module that does not exist is skipped (a family not written, or an optional part not
    installed); one that exists but fails to import raises, so its error is not hidden.
    """
    for module in modules:
        if module in _tried:
            continue
        _tried.add(module)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
