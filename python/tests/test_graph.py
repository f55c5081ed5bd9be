"""The computational graph from Python: the DOT text always, the SVG drawn
by Graphviz for Jupyter, and a clear NNError when Graphviz is missing."""

import os
import shutil

import pytest

import nnderive
from conftest import ASSIGNMENT, EXAMPLES, ROOT


def test_source_is_the_command_lines_dot():
    graph = nnderive.load(ASSIGNMENT).graph()
    expected = (ROOT / "snapshots" / "graph_dot@assignment4.snap").read_text(encoding="utf-8")
    body = expected.split("---\n", 2)[2]
    assert graph.source == body
    assert repr(graph) == graph.source.rstrip("\n")
    # One node per tensor (11) and per equation (5); the backward flow only with grad.
    assert graph.source.count(" [label=") == 16
    assert "backward" not in graph.source
    grad = nnderive.load(ASSIGNMENT).graph(grad=True)
    assert 'class="backward"' in grad.source and '"∂L/∂W1 = δ1 xᵀ"' in grad.source


def test_a_recurrence_is_one_step():
    source = nnderive.load(EXAMPLES / "rnn.nn").graph().source
    assert "h_{t−1}" in source and 'label="t = 2..T (T = 3)"' in source
    assert "h₂" not in source


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot not found")
def test_jupyter_shows_the_svg():
    graph = nnderive.load(ASSIGNMENT).graph()
    svg = graph._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "ŷ" in svg and "cross_entropy(y, ŷ)" in svg


def test_without_graphviz_the_svg_is_a_clear_error(monkeypatch, tmp_path):
    graph = nnderive.load(ASSIGNMENT).graph()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(nnderive.NNError) as e:
        graph._repr_svg_()
    assert "apt-get install graphviz" in str(e.value)
    assert e.value.message.startswith("cannot draw the SVG: Graphviz's `dot` program was not found")
    assert graph.source.startswith("digraph network {")
