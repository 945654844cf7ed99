"""The documentation site (mkdocs.yml): every page the nav names exists, every guide in docs/ is in the
nav, and every ``::: name`` of the API reference resolves to an object. CI also builds the site with
``mkdocs build --strict`` (.ci/run), which fails on broken links; this test catches broken references
without mkdocs installed, in milliseconds."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _nav_pages():
    return re.findall(r"^\s*- (?:[^:\n]+: )?([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)


def _resolve(name):
    """The object ``a.b.c`` names: the longest importable module prefix, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(name)


def test_the_nav_names_existing_pages_and_every_guide():
    pages = _nav_pages()
    assert "index.md" in pages and len(pages) == len(set(pages))
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert missing == []
    guides = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    assert [guide for guide in guides if guide not in pages] == []


@pytest.mark.parametrize("page", sorted(path.name for path in (DOCS / "api").glob("*.md")))
def test_every_api_reference_resolves(page):
    names = re.findall(r"^::: ([\w.]+)\s*$", (DOCS / "api" / page).read_text(), re.M)
    assert names, f"{page} references nothing"
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"docs/api/{page}: ::: {name} does not resolve ({error})")


def test_a_broken_reference_is_caught():
    with pytest.raises(AttributeError):
        _resolve("chainrule.no_such_function")
    with pytest.raises(ModuleNotFoundError):
        _resolve("no_such_package.thing")
