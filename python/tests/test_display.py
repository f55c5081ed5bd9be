"""Rich display: what Jupyter shows as the last line of a cell."""

import nnderive
from conftest import ASSIGNMENT


def test_solution_markdown_is_the_worked_solution():
    sol = nnderive.load(ASSIGNMENT).solve(round=4)
    md = sol._repr_markdown_()
    assert md == sol.markdown
    assert md.startswith("# Worked solution: gradients by back-propagation")
    assert "$$\n\\begin{aligned}" in md
    assert "\\delta_{1}" in md and "\\frac{\\partial L}{\\partial W_{1}}" in md
    # rounded to 4 decimals, as asked
    assert "1.5221" in md and "0.6671" in md and "1.52212" not in md
    full = nnderive.load(ASSIGNMENT).solve()._repr_markdown_()
    assert "1.52212" in full


def test_solution_latex_and_text():
    sol = nnderive.load(ASSIGNMENT).solve(round=4)
    math = sol._repr_latex_()
    assert math.startswith("$$\n\\begin{aligned}") and math.endswith("\\end{aligned}\n$$")
    assert "\\delta_{2} &= \\hat{y} - y" in math
    assert "\\frac{\\partial L}{\\partial W_{1}} &= \\delta_{1} x^\\top" in math
    assert sol.latex.startswith("\\documentclass")
    assert repr(sol) == sol.text.rstrip("\n")
    assert "L by step: 1.5221 → 1.5001" in repr(sol)


def test_derivation_display():
    d = nnderive.load(ASSIGNMENT).derive()
    md = d._repr_markdown_()
    assert "### Error terms" in md
    assert "\\delta_{1} &= \\left(W_{2}^\\top \\delta_{2}\\right) \\odot \\operatorname{f}'\\left(Z_{1}\\right)" in md
    assert "[d-softmax at ŷ]" in md  # every step, in the details block
    assert d.deltas.formula["δ2"] == "ŷ − y" and d.deltas.latex["delta2"] == "\\hat{y} - y"
    assert d.gradients.formula["W1"] == "δ1 xᵀ"
    assert d.loss["formula"] == "cross_entropy(y, ŷ)"
    assert repr(d).startswith("Forward pass")
    assert d._repr_latex_().count("&=") == 11


def test_net_display_shows_the_source():
    net = nnderive.load(ASSIGNMENT)
    assert "loss L = cross_entropy(y, yhat)" in net._repr_markdown_()
