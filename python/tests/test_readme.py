"""The README's Python example runs as written (with a student's gradients
dW1 … db2 from a NumPy backprop), and its notebook commands are the ones CI
has the pieces for."""

import os
import re

import numpy as np

from conftest import ROOT, assignment_values, numpy_backprop


def section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## In a notebook", 1)[1].split("\n## ", 1)[0]


def test_readme_python_example_runs(monkeypatch):
    block = re.search(r"```python\n(.*?)```", section(), re.S)[1]
    ref = numpy_backprop(**assignment_values())
    namespace = {"np": np, "dW1": ref["W1"], "db1": ref["b1"], "dW2": ref["W2"], "db2": ref["b2"]}
    monkeypatch.chdir(ROOT)
    exec(block, namespace)
    sol = namespace["sol"]
    assert [str(f) for f in sol.forward.exact["Z1"]] == ["27/20", "7/20", "3/5"]
    assert eval("sol.compare({'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2})", namespace).ok
    assert sol.round == 4 and sol.forward["H"].dtype == np.float64


def test_readme_notebook_commands():
    commands = re.search(r"```sh\n(.*?)```", section(), re.S)[1].splitlines()
    assert commands == [
        "python3 -m venv .venv",
        ".venv/bin/pip install ./python notebook",
        ".venv/bin/jupyter notebook python/examples/assignment4.ipynb",
    ]
    assert os.path.exists(ROOT / "python" / "pyproject.toml")
    assert os.path.exists(ROOT / "python" / "examples" / "assignment4.ipynb")
