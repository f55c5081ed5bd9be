"""Rich display: what Jupyter shows as the last line of a cell."""

import time

import numpy as np

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


def mlp(*widths, seed=1, train=None):
    """A dense relu network of the given widths with softmax and
    cross-entropy, its weights written into the text; `train`, a train
    statement's settings (`"lr = 0.01, steps = 100"`)."""
    rng = np.random.default_rng(seed)

    def literal(a):
        if a.ndim == 1:
            return "[" + ", ".join(f"{v:.2f}" for v in a) + "]"
        return "[" + ", ".join(literal(r) for r in a) + "]"

    lines = [f"input x[{widths[0]}] = {literal(rng.uniform(0, 1, widths[0]))}"]
    for k in range(1, len(widths)):
        lines.append(f"param W{k}[{widths[k]},{widths[k - 1]}] = {literal(rng.uniform(-0.1, 0.1, (widths[k], widths[k - 1])))}")
        lines.append(f"param b{k}[{widths[k]}] = {literal(np.zeros(widths[k]))}")
    lines.append(f"target y[{widths[-1]}] = [1{', 0' * (widths[-1] - 1)}]")
    prev = "x"
    for k in range(1, len(widths)):
        lines.append(f"Z{k} = W{k} @ {prev} + b{k}")
        if k < len(widths) - 1:
            lines.append(f"H{k} = relu(Z{k})")
            prev = f"H{k}"
    lines.append(f"yhat = softmax(Z{len(widths) - 1})")
    lines.append("loss L = cross_entropy(y, yhat)")
    if train:
        lines.append(f"train sgd({train})")
    return "\n".join(lines) + "\n"


def test_a_large_solution_displays_bounded_and_fast():
    sol = nnderive.parse(mlp(784, 128, 10), name="mlp.nn").solve(round=4)
    start = time.perf_counter()
    md = sol._repr_markdown_()
    text = repr(sol)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    # Bounded: a summary, not the whole 100 000-entry document.
    assert len(md) < 60_000 and len(text) < 60_000, (len(md), len(text))
    assert md.startswith("# Worked solution (summary)") and "`sol.markdown`" in md
    # Each value by its shape, norm and corners, as NumPy prints it.
    W1 = sol.gradients["W1"]
    assert W1.shape == (128, 784)
    assert f"shape (128, 784), 100 352 entries, ‖·‖₂ = {np.sqrt((W1 * W1).sum()):.6g}" in md
    assert "..." in md
    assert "\\frac{\\partial L}{\\partial W_{1}}" in md
    # The whole document is one step away, and holds every entry.
    assert len(sol.markdown) > 10 * len(md)


def test_a_small_solution_displays_whole():
    sol = nnderive.parse(mlp(4, 3, 2), name="small.nn").solve()
    assert sol._repr_markdown_() == sol.markdown
    assert repr(sol) == sol.text.rstrip("\n")
