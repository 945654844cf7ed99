"""Each experiment runs once per test module, in quick mode, into a temporary directory."""

import pytest

from chainrule import experiments


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name)``: run the experiment ``name`` in quick mode (cached per module) and check that
    its report and figures were written; returns ``(result, report_text, out_dir)``."""
    runs = {}

    def run(name):
        if name not in runs:
            out_dir = tmp_path_factory.mktemp(name)
            result, report = experiments.run(name, out_dir, quick=True, seed=0)
            assert report == out_dir / "report.md" and report.is_file()
            text = report.read_text(encoding="utf-8")
            assert text.startswith(f"# {experiments.get(name).TITLE}")
            assert result.headline in text
            assert result.figures, f"{name} made no figure"
            for figure in result.figures:
                assert figure.suffix == ".png" and figure.stat().st_size > 5000
                assert figure.read_bytes()[:4] == b"\x89PNG"
                assert f"]({figure.name})" in text
            runs[name] = (result, text, out_dir)
        return runs[name]

    return run
