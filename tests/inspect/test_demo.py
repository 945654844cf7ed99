"""The README's pictures come from one command."""

import shutil

import pytest

from chainrule.inspect import demo


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_demo_writes_the_graph_and_the_gradient_flow_pictures(tmp_path, capsys):
    demo.main([str(tmp_path)])
    for name in ("mlp-graph.png", "gradient-flow-sigmoid.png", "gradient-flow-relu.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "warning (vanishing)" in out.split("gradient-flow-relu.png")[0]
    assert "warning (vanishing)" not in out.split("gradient-flow-relu.png")[1]


def test_demo_without_dot_writes_the_dot_source_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    x, y = demo.digits()
    with pytest.raises(demo.GraphvizNotInstalled):
        demo.draw_graph(str(tmp_path), x, y)
    assert (tmp_path / "mlp-graph.dot").read_text().startswith("digraph {")
