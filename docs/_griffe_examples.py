"""A griffe extension for the API reference: chainrule's docstrings head their doctests ``Example:``,
which griffe's Google parser reads as an admonition (Markdown, where ``>>>`` and ``[...]`` outputs are
mangled); as ``Examples:`` they render as code."""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


class ExampleSections(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
