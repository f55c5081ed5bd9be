"""`solve()` computes the values only: the documents are made when first
read, the arrays reach NumPy without text in between, and everything is the
same as the command line's (its JSON, text, Markdown and LaTeX)."""

import json
import os
import subprocess
from fractions import Fraction

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, EXAMPLES, ROOT, SNAPSHOTS

CLI = ROOT / "target" / "debug" / "nnderive"
# Files whose every value is given (the package refuses open values).
SOLVABLE = [p for p in sorted(EXAMPLES.glob("*.nn")) if p.stem not in ("assignment4_open", "symbolic")]


def cli(*args):
    if not CLI.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{CLI} is missing: build it with `cargo build` first")
        pytest.skip("the command line is not built (cargo build)")
    return subprocess.run([str(CLI), *map(str, args)], check=True, capture_output=True, text=True, cwd=ROOT).stdout


def as_array(value):
    """A JSON value as the command line writes it (null for a non-finite entry)."""
    return np.array(value, dtype=np.float64)


def fractions(exact):
    if isinstance(exact, str):
        return Fraction(exact)
    return np.vectorize(Fraction, otypes=[object])(np.array(exact, dtype=object))


@pytest.mark.parametrize("path", SOLVABLE, ids=[p.name for p in SOLVABLE])
def test_values_and_documents_are_the_command_lines(path):
    expected = json.loads(cli("solve", "--format", "json", path.relative_to(ROOT)))
    sol = solve(path)
    for section_name in ("given", "forward", "deltas", "gradients", "updated"):
        section = getattr(sol, section_name)
        assert list(section.keys()) == [k for k, v in expected[section_name].items() if "value" in v]
        for key, obj in expected[section_name].items():
            # Values are computed in f64 (see test_float_path.py for what holds).
            close_to_the_command_line(section[key], as_array(obj["value"]), f"{section_name} {key}")
            if "exact" in obj:
                assert np.all(section.exact[key] == fractions(obj["exact"])), (section_name, key)
            else:
                assert section.exact[key] is None
    close_to_the_command_line(sol.loss, as_array(expected["loss"]["value"]), "loss")
    assert sol.json == expected
    close_to_the_command_line(sol.history, as_array([h["value"] for h in expected["history"]]), "history")
    assert sol.notes == expected["notes"]
    # The documents, made when read, are the command line's.
    assert sol.text == cli("solve", path.relative_to(ROOT))
    assert sol.markdown == cli("solve", "--format", "markdown", path.relative_to(ROOT))


def close_to_the_command_line(found, expected, what):
    """f64 values against the command line's (exact values correctly rounded,
    the rest f64 from there): equal where either is not finite, else within
    a relative error of RELATIVE of the largest entry of the value."""
    from test_float_path import RELATIVE

    found, expected = np.asarray(found, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert found.shape == expected.shape, what
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(found[~finite], expected[~finite], err_msg=what)
    scale = max(1.0, float(np.max(np.abs(expected[finite]), initial=0.0)))
    np.testing.assert_allclose(found[finite], expected[finite], rtol=0, atol=RELATIVE * scale, err_msg=what)


def solve(path, round=None):
    return nnderive.parse(path.read_bytes(), name=str(path.relative_to(ROOT))).solve(round=round)


@pytest.mark.parametrize("path", SOLVABLE[:6], ids=[p.name for p in SOLVABLE[:6]])
def test_rounded_documents_are_the_reviewed_snapshots(path):
    body = (SNAPSHOTS / f"solve@{path.name}.snap").read_text(encoding="utf-8").split("\n---\n", 1)[1]
    assert solve(path, round=4).text.rstrip("\n") == body.rstrip("\n")


def test_solving_makes_no_document_and_no_text_of_the_values():
    sol = nnderive.load(ASSIGNMENT).solve(round=4)
    assert sol._documents == {}
    # The native answer: a skeleton of names and formulas, each value a
    # placeholder, and the values as float64 arrays.
    solved, skeleton, arrays = nnderive._native.solve(sol.net.name, sol.net.text, [])
    data = json.loads(skeleton)
    assert data["forward"]["Z1"]["value"] == {"buffer": data["forward"]["Z1"]["value"]["buffer"]}
    # The f64 solution's skeleton: whether a value is exact is the exact
    # solution's to say, asked for with the fractions.
    assert "exact" not in data["forward"]["Z1"] and solved.computed() == "float"
    assert "1.35" not in skeleton and "27/20" not in skeleton
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays)
    # Each document once, when first read, then kept.
    text = sol.text
    assert set(sol._documents) == {"text"} and sol.text is text
    assert sol.forward.exact["Z1"].tolist() == [Fraction(27, 20), Fraction(7, 20), Fraction(3, 5)]
    assert sol.loss_exact is None and sol.history_exact[0] is None
    assert sol.training["lr_exact"] == Fraction(1, 1000)


def test_a_large_network_solves_without_its_documents(tmp_path):
    from test_display import mlp

    net = nnderive.parse(mlp(784, 128, 10), name="mlp.nn")
    sol = net.solve()
    assert sol._documents == {}
    # The skeleton holds names and formulas only: small beside the values.
    _, skeleton, arrays = nnderive._native.solve(net.name, net.text, [])
    assert sum(a.size for a in arrays) > 200_000 and len(skeleton) < 20_000
    assert sol.gradients["W1"].shape == (128, 784)


def test_a_net_is_read_once_and_its_values_still_count():
    net = nnderive.load(ASSIGNMENT)
    first = net.solve()
    # Solving again reuses the checked network: the same values.
    again = net.solve()
    assert again.loss == first.loss and again._native is not first._native
    # Values changed on the net, or given for one call, are used.
    net.values["y"] = [0, 1]
    swapped = net.solve()
    assert swapped.loss != first.loss
    assert swapped.loss == nnderive.load(ASSIGNMENT).solve(given={"y": [0, 1]}).loss


def test_a_net_and_a_solution_serve_other_threads():
    """A net and a solution made on one thread serve another (a worker
    pool, a widget's callback), and are freed on either."""
    from concurrent.futures import ThreadPoolExecutor

    net = nnderive.load(ASSIGNMENT)
    sol = net.solve(round=4)
    with ThreadPoolExecutor(2) as pool:
        text, solved_there, exact = pool.submit(lambda: (sol.text, net.solve(round=4).text, sol.forward.exact["Z1"])).result()
    assert text == solved_there == net.solve(round=4).text
    assert exact.tolist() == [Fraction(27, 20), Fraction(7, 20), Fraction(3, 5)]
