"""nnderive.grade: a student's numbers graded part by part, as in an
autograder cell; values from the NumPy backprop in conftest, not from nnderive."""

import json

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, numpy_backprop


def round4(a):
    """Half away from zero to 4 decimals, as the keys round."""
    a = np.asarray(a, dtype=np.float64)
    return np.trunc(a * 1e4 + np.copysign(0.5, a)) / 1e4


def answers(values, ref):
    lr = 0.001
    out = {name: round4(ref[name]) for name in ("Z1", "H", "Z2", "yhat", "L", "delta2", "delta1")}
    for p in ("W1", "b1", "W2", "b2"):
        out["d" + p] = round4(ref[p])
        out[p + "_new"] = round4(values[p] - lr * ref[p])
    return out


@pytest.fixture
def net():
    return nnderive.load(ASSIGNMENT)


def test_every_key_value_scores_full(net, assignment):
    result = nnderive.grade(net, answers(assignment, numpy_backprop(**assignment)))
    assert (result.score, result.max) == (15.0, 15.0) and result.ok
    assert len(result) == 15 and all(p.status == "correct" for p in result)
    assert repr(result).startswith("answers against assignment4.nn, each entry within ±0.00005")
    assert repr(result).endswith("score 15 of 15")
    assert "<table>" in result._repr_html_()
    assert result.tolerance == 0.00005 and result.round == 4


def test_error_carried_forward(net, assignment):
    # δ1 with relu′ for f′ (cos forgotten), and every later part from that δ1.
    values = dict(assignment)
    ref = numpy_backprop(**values)
    wrong_delta1 = (values["W2"].T @ ref["delta2"]) * (ref["Z1"] > 0)
    ref.update(delta1=wrong_delta1, W1=np.outer(wrong_delta1, values["x"]), b1=wrong_delta1)
    result = nnderive.grade(net, answers(values, ref))
    assert result["delta1"].status == "wrong"
    index, numpy_index, yours, expected = result["delta1"].first_wrong
    assert numpy_index == (0,) and index == (1,) and yours == pytest.approx(round4(wrong_delta1[0]))
    assert result["delta1"].mistake == "derivative-term-missing"
    for name in ("dW1", "db1", "W1_new", "b1_new"):
        assert result[name].status == "consistent" and result[name].score == 1.0, result[name]
    assert result.score == 14.0


def test_files_csv_weights_and_bad_entries(net, assignment, tmp_path):
    ref = numpy_backprop(**assignment)
    rows = ["name,row,col,value"]
    rows += [f"dW1,{i + 1},{j + 1},{round4(ref['W1'][i, j])}" for i in range(3) for j in range(4)]
    rows += ["L,,,not-a-number", "detla1,1,,0"]
    path = tmp_path / "answers.csv"
    path.write_text("\n".join(rows) + "\n")
    result = nnderive.grade(net, path, weights={"dW1": 3, "L": 1})
    assert (result.score, result.max) == (3.0, 4.0)
    assert result["L"].status == "unreadable" and "'not-a-number'" in result["L"].message
    assert any("did you mean delta1" in p for p in result.problems)
    # A dictionary with what a notebook holds: NaN, a string, a wrong shape.
    mine = {"Z1": np.array([1.35, np.nan, 0.6]), "H": "2.3257", "yhat": np.zeros((2, 2)),
            "dW2": round4(ref["W2"]).T, "weights": {"Z1": 1, "H": 1, "yhat": 1, "dW2": 1}}
    result = nnderive.grade(net, mine)
    assert result["Z1"].status == "unreadable" and "[2] (\"nan\")" in result["Z1"].message
    assert (result["H"].status, result["H"].message) == ("wrong", "expected [3], you gave a scalar")
    assert result["yhat"].message == "expected [2], you gave [2, 2]"
    assert result["dW2"].mistake == "transpose"
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"L": float(round4(ref["L"]))}))
    assert nnderive.grade(net, path, weights={"L": 1}).ok
    with pytest.raises(ValueError, match="round"):
        nnderive.grade(net, {}, round=-1)


def test_the_guide_example_runs(assignment, tmp_path, monkeypatch):
    """docs/grading.md's Python block, run as written (with a student's
    values from the NumPy backprop, and an answers.csv beside it)."""
    import re
    import shutil
    from conftest import ROOT
    guide = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", guide, re.S)[1]
    ref = numpy_backprop(**assignment)
    (tmp_path / "grammar" / "examples").mkdir(parents=True)
    shutil.copy(ASSIGNMENT, tmp_path / "grammar" / "examples" / "assignment4.nn")
    (tmp_path / "answers.csv").write_text(f"L,,,{round4(ref['L'])}\n")
    monkeypatch.chdir(tmp_path)
    namespace = {"delta1": ref["delta1"], "dW1": ref["W1"], "W1_new": assignment["W1"] - 0.001 * ref["W1"]}
    exec(block, namespace)
    result = namespace["result"]
    assert (result.score, result.max) == (5.0, 5.0)
    assert result["dW1"].status == "correct"
    assert nnderive.grade(namespace["net"], "answers.csv")["L"].status == "correct"
