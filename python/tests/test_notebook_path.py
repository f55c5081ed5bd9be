"""The package outside the repository: its examples ship inside it, the
example notebook runs from any folder, every key has a plain ASCII
spelling, and advice is given as Python says it."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, EXAMPLES, ROOT


def test_the_examples_ship_in_the_package_as_in_the_repository():
    names = nnderive.examples.names()
    repository = sorted(p.stem for p in EXAMPLES.glob("*.nn"))
    missing, extra = sorted(set(repository) - set(names)), sorted(set(names) - set(repository))
    assert not missing, f"copy {', '.join(f'grammar/examples/{n}.nn' for n in missing)} into python/nnderive/examples/"
    assert not extra, f"remove {', '.join(f'python/nnderive/examples/{n}.nn' for n in extra)}: not in grammar/examples"
    for name in names:
        shipped = nnderive.examples.path(name)
        assert shipped.read_bytes() == (EXAMPLES / f"{name}.nn").read_bytes(), f"{name}.nn differs from grammar/examples"
        assert shipped.parent == Path(nnderive.__file__).parent / "examples"
    assert nnderive.examples.path("assignment4.nn") == nnderive.examples.path("assignment4")
    net = nnderive.examples.load("assignment4")
    assert net.name == "assignment4.nn" and net.text == ASSIGNMENT.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="no example named 'nope'; the examples are assignment4, "):
        nnderive.examples.path("nope")


def test_the_examples_are_found_from_any_folder(tmp_path, monkeypatch):
    # Not relative to the working folder: from an empty one, the same file.
    here = nnderive.examples.path("assignment4")
    monkeypatch.chdir(tmp_path)
    assert nnderive.examples.path("assignment4") == here and here.is_absolute() and here.is_file()
    assert nnderive.examples.load("assignment4").solve().loss == pytest.approx(1.52212, abs=1e-5)


def test_the_notebook_runs_from_any_folder(tmp_path):
    if os.environ.get("CI"):
        import nbclient
        import nbformat
    else:
        nbclient = pytest.importorskip("nbclient")
        nbformat = pytest.importorskip("nbformat")
        pytest.importorskip("ipykernel")
    copy = tmp_path / "assignment4.ipynb"
    shutil.copy(ROOT / "python" / "examples" / "assignment4.ipynb", copy)
    nb = nbformat.read(copy, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, errors
    assert any("Z1 exact : [Fraction(27, 20)" in o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def every_key(sol):
    for section in (sol.given, sol.forward, sol.deltas, sol.gradients, sol.updated):
        for key in section:
            yield section, key


@pytest.mark.parametrize("name", ["assignment4", "lstm", "rnn", "gru", "cnn", "assignment4_adam"])
def test_every_key_has_a_plain_ascii_spelling(name):
    sol = nnderive.examples.load(name).solve()
    keys = list(every_key(sol))
    assert keys
    for section, key in keys:
        ascii_key = nnderive._ascii(key)
        assert ascii_key.isascii(), (key, ascii_key)
        assert ascii_key in section and section[ascii_key] is section[key], (key, ascii_key)
        if key in section.formula:
            assert section.formula[ascii_key] == section.formula[key]
        assert section.exact.get(ascii_key) is section.exact.get(key)


def test_subscripts_and_greek_letters_in_ascii():
    sol = nnderive.examples.load("lstm").solve()
    subscripted = [k for k in sol.deltas if any(c in k for c in "₀₁₂₃₄₅₆₇₈₉")]
    assert subscripted, list(sol.deltas)
    for key in subscripted:
        plain = key.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")).replace("δ", "delta").replace("∂", "d")
        plain = plain.replace("ŷ", "yhat").replace("y\u0302", "yhat")
        assert plain.isascii() and np.array_equal(sol.deltas[plain], sol.deltas[key]), (key, plain)
    assert nnderive._ascii("α₂") == "alpha2" and nnderive._ascii("dL/dc₂") == "dL/dc2"
    assert nnderive._ascii("δy\u0302₃") == nnderive._ascii("δŷ₃") == "deltayhat3"
    with pytest.raises(KeyError, match="the error terms are"):
        sol.deltas["dL/dc99"]


def test_open_values_get_python_advice():
    net = nnderive.examples.load("assignment4_open")
    with pytest.raises(nnderive.NNError) as caught:
        net.solve()
    message = str(caught.value)
    assert "given={'y': [...]}" in message, message
    assert "--given" not in message and "nnderive solve" not in message
    # And the advice works.
    assert net.solve(given={"y": [1, 0]}).loss == pytest.approx(1.52212, abs=1e-5)


def test_gradcheck_says_whose_derivation_it_checks():
    check = nnderive.examples.load("assignment4").gradcheck()
    assert check.ok
    shown = repr(check)
    assert "nnderive's own derivation" in shown and "sol.compare" in shown and "check_gradients" in shown
    assert "check_gradients" in nnderive.Net.gradcheck.__doc__
