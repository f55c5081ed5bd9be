"""sol.compare: a student's hand-written backprop, right and wrong."""

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, numpy_backprop


@pytest.fixture
def sol():
    return nnderive.load(ASSIGNMENT).solve()


@pytest.fixture
def mine(assignment):
    ref = numpy_backprop(**assignment)
    return {p: ref[p] for p in ("W1", "b1", "W2", "b2")}


def test_correct_gradients_pass(sol, mine):
    result = sol.compare(mine)
    assert result.ok and bool(result)
    assert result.max_rel_error < 1e-12
    assert all(p.status == "ok" for p in result.params.values())
    assert repr(result).startswith("All 4 gradients match")
    assert "<table>" in result._repr_html_()


def test_nested_lists_keyword_arguments_and_d_prefixed_names(sol, mine):
    as_lists = {f"d{k}": v.tolist() for k, v in mine.items()}
    assert sol.compare(as_lists).ok
    assert sol.compare(W1=mine["W1"], b1=mine["b1"], W2=mine["W2"], b2=mine["b2"]).ok
    assert nnderive.check_gradients(nnderive.load(ASSIGNMENT), mine).ok


def test_a_column_vector_as_n_by_1_is_the_same(sol, mine):
    mine["b1"] = mine["b1"].reshape(3, 1)
    assert sol.compare(mine).ok


def test_wrong_derivative_of_the_activation_is_caught(sol, assignment, mine):
    # A typical mistake: f′(t) taken as relu′(t) alone, forgetting cos(t).
    ref = numpy_backprop(**assignment)
    Z1, x = ref["Z1"], assignment["x"]
    wrong_delta1 = (assignment["W2"].T @ ref["delta2"]) * (Z1 > 0)
    mine.update(W1=np.outer(wrong_delta1, x), b1=wrong_delta1)
    result = sol.compare(mine)
    assert not result.ok
    assert result["W2"].ok and result["b2"].ok
    b1 = result["b1"]
    assert b1.status == "differs" and b1.differing == 3 and b1.total == 3
    expected_rel = np.abs(wrong_delta1 - ref["delta1"]) / np.maximum(np.abs(wrong_delta1), np.abs(ref["delta1"]))
    assert b1.max_rel_error == pytest.approx(expected_rel.max())
    index, yours, derived, rel = b1.worst[0]
    assert index == (int(np.argmax(expected_rel)),)
    assert yours == wrong_delta1[index] and derived == pytest.approx(ref["delta1"][index])
    w1 = result["W1"]
    assert len(w1.worst) == 5 and all(len(i) == 2 for i, *_ in w1.worst)
    assert "2 of 4 do not match: W1, b1" in repr(result)
    # Entries are counted from 1, as the formulas count, with NumPy's index beside.
    (i,) = index
    assert f"b1[{i + 1}] (NumPy b1[{i}])" in repr(result)
    assert "DIFFERS" in repr(result)


def test_sign_error_is_named(sol, mine):
    mine["W2"] = -mine["W2"]
    result = sol.compare(mine)
    assert result["W2"].status == "differs"
    assert "negative" in result["W2"].message


def test_row_layout_is_explained_and_accepted_on_request(sol, mine):
    row = {k: v.T for k, v in mine.items()}  # X @ W style: W1 is [4, 3]
    result = sol.compare(row)
    assert not result.ok
    w1 = result["W1"]
    assert w1.status == "shape"
    assert w1.expected_shape == (3, 4) and w1.given_shape == (4, 3)
    assert "expected [3, 4] (column layout" in w1.message and "did you mean .T?" in w1.message
    assert result["b1"].ok  # a 1-D vector has no layout
    row["b1"] = mine["b1"].reshape(1, 3)
    assert sol.compare(row, layout="row").ok
    assert "did you mean .T?" in sol.compare(row)["b1"].message


def test_missing_extra_and_wrong_shapes(sol, mine):
    del mine["b2"]
    mine["W3"] = np.zeros((2, 3))
    mine["W2"] = np.zeros((2, 2))
    result = sol.compare(mine)
    assert result["b2"].status == "missing"
    assert result["W3"].status == "extra" and "did you mean W" in result["W3"].message
    assert result["W2"].status == "shape" and result["W2"].message == "expected [2, 3], you gave [2, 2]"
    assert result["W1"].ok
    with pytest.raises(ValueError, match="layout"):
        sol.compare(mine, layout="rows")


def test_nan_and_unreadable_entries_differ(sol, mine):
    mine["b2"] = np.array([np.nan, 0.5])
    mine["b1"] = [[1, 2], [3]]
    result = sol.compare(mine)
    assert result["b2"].status == "differs" and result["b2"].worst[0][0] == (0,)
    assert result["b1"].status == "invalid"


def test_tolerance(sol, mine):
    mine["W1"] = mine["W1"] * (1 + 1e-7)
    assert sol.compare(mine).ok
    assert not sol.compare(mine, rtol=1e-9).ok


def test_every_named_quantity_is_compared(sol, assignment):
    ref = numpy_backprop(**assignment)
    mine = {"Z1": ref["Z1"], "H": ref["H"], "yhat": ref["yhat"], "L": ref["L"], "δ2": ref["delta2"],
            "delta1": ref["delta1"], "W1": ref["W1"], "dL/db1": ref["b1"], "dW2": ref["W2"], "b2": ref["b2"],
            "W1_new": assignment["W1"] - 0.001 * ref["W1"]}
    result = sol.compare(mine)
    assert result.ok, repr(result)
    assert repr(result).startswith("All 11 quantities match")
    assert result["delta1"].ok and result["δ1"] is result["delta1"] and result["dZ1"] is result["delta1"]
    assert result["W1"].ok and result["dW1"] is result["W1"]
    mine["delta1"] = ref["delta1"] * 2
    result = sol.compare(mine)
    assert result["delta1"].status == "differs" and result["W1"].ok
    names = {q["name"] for q in sol.quantities}
    assert {"Z1", "H", "Z2", "yhat", "L", "delta2", "delta1", "dW1", "db1", "dW2", "db2", "W1_new", "b2_new"} <= names
    delta1 = next(q for q in sol.quantities if q["name"] == "delta1")
    assert delta1["depends"] == ["Z1", "delta2"] and "δ1" in delta1["aliases"]


def test_answers_rounded_as_the_key_prints_them_match_at_its_precision(assignment):
    ref = numpy_backprop(**assignment)
    # Rounded half away from zero to 4 decimals, as `solve --round 4` prints.
    rounded = {k: np.trunc(ref[k] * 1e4 + np.copysign(0.5, ref[k])) / 1e4 for k in ("W1", "b1", "W2", "b2", "delta1", "H")}
    net = nnderive.load(ASSIGNMENT)
    assert not net.solve().compare(rounded).ok  # rtol=1e-5 without a precision
    at4 = net.solve(round=4).compare(rounded)
    assert at4.ok, repr(at4)
    assert (at4.rtol, at4.atol) == (0.0, 0.00005)
    # Off by more than half a unit of the 4th decimal: a difference.
    rounded["W1"] = rounded["W1"] + np.array([[6e-5, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert not net.solve(round=4).compare(rounded)["W1"].ok
    # An explicit tolerance still wins.
    assert net.solve(round=4).compare(rounded, atol=1e-3).ok
