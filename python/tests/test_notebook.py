"""The example notebook runs from top to bottom (nbclient, a real kernel),
and its outputs show the values that matter. Skipped only where nbclient or
ipykernel is not installed, and never in CI (CI set)."""

from conftest import ROOT, notebook_modules

NOTEBOOK = ROOT / "python" / "examples" / "assignment4.ipynb"


def outputs_of(cell):
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append(out["text"])
        for kind, data in out.get("data", {}).items():
            texts.append(f"[{kind}]\n{data}")
    return "\n".join(texts)


def test_notebook_runs_and_shows_the_values():
    nbclient, nbformat = notebook_modules()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, errors

    text = "\n".join(outputs_of(c) for c in code)
    # The derivation and the worked solution, rendered as Markdown for MathJax.
    assert "[text/markdown]\n## Derivation" in text
    assert "\\delta_{1} &= \\left(W_{2}^\\top \\delta_{2}\\right) \\odot \\operatorname{f}'\\left(Z_{1}\\right)" in text
    assert "[text/markdown]\n# Worked solution" in text
    # The assignment's values.
    assert "Z1 exact : [Fraction(27, 20) Fraction(7, 20) Fraction(3, 5)]" in text
    assert "H        : [2.3257 0.6929 1.1646]" in text
    assert "yhat     : [0.2182 0.7818]" in text
    assert "loss     : 1.5221" in text
    assert "delta1   : [ 0.6671 -1.0613  0.2854]" in text
    assert "dL/dW2   : [[-1.8181, -0.5417, -0.9105], [1.8181, 0.5417, 0.9105]]" in text
    assert "W2 (new) : [[-0.2982, 0.2005, 0.1009], [0.3982, -0.5005, 0.2991]]" in text
    # The hand-written backprop passes; the deliberate mistakes are caught.
    assert "All 4 gradients match" in text
    assert "hand-written backprop and update: OK" in text
    assert "2 of 4 do not match: W1, b1" in text
    assert "2 of 4 do not match: W1, W2" in text and "did you mean .T?" in text
