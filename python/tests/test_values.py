"""Values: the assignment against an independent NumPy computation, exact
fractions, given values, training history."""

from fractions import Fraction

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, numpy_backprop


def test_assignment_matches_numpy_backprop(assignment):
    sol = nnderive.load(ASSIGNMENT).solve()
    ref = numpy_backprop(**assignment)
    for name in ("Z1", "H", "Z2", "yhat"):
        assert sol.forward[name].dtype == np.float64
        np.testing.assert_allclose(sol.forward[name], ref[name], rtol=1e-13)
    assert sol.loss == pytest.approx(ref["L"], rel=1e-13)
    np.testing.assert_allclose(sol.deltas["δ2"], ref["delta2"], rtol=1e-12)
    np.testing.assert_allclose(sol.deltas["δ1"], ref["delta1"], rtol=1e-12)
    for p in ("W1", "b1", "W2", "b2"):
        assert sol.gradients[p].shape == assignment[p].shape
        np.testing.assert_allclose(sol.gradients[p], ref[p], rtol=1e-12)
        np.testing.assert_allclose(sol.updated[p], assignment[p] - 0.001 * ref[p], rtol=1e-12)


def test_assignment_rounded_values_of_the_worked_solution():
    sol = nnderive.load(ASSIGNMENT).solve(round=4)
    # round shapes the documents, never the arrays
    assert sol.forward["H"][0] != round(sol.forward["H"][0], 4)
    np.testing.assert_array_equal(np.round(sol.forward["H"], 4), [2.3257, 0.6929, 1.1646])
    np.testing.assert_array_equal(np.round(sol.forward["yhat"], 4), [0.2182, 0.7818])
    np.testing.assert_array_equal(np.round(sol.gradients["W2"], 4), [[-1.8181, -0.5417, -0.9105], [1.8181, 0.5417, 0.9105]])
    assert round(sol.loss, 4) == 1.5221


def test_exact_fractions_where_exact():
    sol = nnderive.load(ASSIGNMENT).solve()
    assert list(sol.forward.exact["Z1"]) == [Fraction(27, 20), Fraction(7, 20), Fraction(3, 5)]
    assert sol.forward.exact["Z1"].shape == (3,)
    assert sol.forward.exact["H"] is None  # through sin: not exact
    assert sol.loss_exact is None
    assert sol.given.exact["W1"][1, 1] == Fraction(-3, 10)
    assert sol.given.exact["W1"].shape == (3, 4)
    assert sol.training == {"optimizer": "sgd", "lr": 0.001, "lr_exact": Fraction(1, 1000), "steps": 1}


def test_exact_gradients_updates_and_history():
    # E = ½ Σ (y − W x)², W x = 0: E = 1/2, ∂E/∂W = −(y − W x) xᵀ = [[−1, −2]];
    # after one step W = [[3/5, −1/20]], W x = 1/2, E = 1/8; then
    # ∂E/∂W = [[−1/2, −1]], W = [[13/20, 1/20]], W x = 3/4, E = 1/32.
    net = nnderive.parse(
        "input x[2] = [1, 2]\ntarget y[1] = [1]\nparam W[1,2] = [[0.5, -0.25]]\n"
        "loss E = 0.5 * sum((y - W @ x)^2)\ntrain sgd(lr = 0.1, steps = 2)\n"
    )
    sol = net.solve()
    assert sol.gradients.exact["W"].tolist() == [[Fraction(-1), Fraction(-2)]]
    assert sol.updated.exact["W"].tolist() == [[Fraction(13, 20), Fraction(1, 20)]]
    assert sol.history_exact == [Fraction(1, 2), Fraction(1, 8), Fraction(1, 32)]
    np.testing.assert_array_equal(sol.history, [0.5, 0.125, 0.03125])
    assert sol.loss_exact == Fraction(1, 2) and sol.loss == 0.5
    assert sol.loss_name == "E"
    # The residual inside the loss is named once in the forward pass, as a
    # textbook writes e = y − W x, and the loss is written with its name.
    assert sol.forward.formula["zE"] == "y − W x"
    assert sol.loss_formula == "0.5 Σ(zE²)"
    assert sol.loss_latex is not None and "zE" in sol.loss_latex
    assert sol.deltas.formula["δ1"] == sol.deltas.formula["delta1"]


def test_given_target_changes_every_later_value(assignment):
    sol = nnderive.load(ASSIGNMENT).solve(given={"y": [0, 1]})
    assignment["y"] = np.array([0.0, 1.0])
    ref = numpy_backprop(**assignment)
    np.testing.assert_allclose(sol.deltas["delta2"], ref["delta2"], rtol=1e-12)
    np.testing.assert_allclose(sol.gradients["W1"], ref["W1"], rtol=1e-12)
    assert list(sol.given.exact["y"]) == [0, 1]


def test_values_at_load_take_numpy_arrays_and_fractions(assignment):
    W1 = np.array([[0.2, -0.1, 0.3, 0.1], [0.1, 0.4, -0.2, 0.3], [-0.3, 0.2, 0.1, 0.5]])
    net = nnderive.load(ASSIGNMENT, values={"W1": W1, "b1": [Fraction(1, 3), 0, 0]})
    sol = net.solve()
    assignment.update(W1=W1, b1=np.array([1 / 3, 0, 0]))
    ref = numpy_backprop(**assignment)
    np.testing.assert_allclose(sol.gradients["W2"], ref["W2"], rtol=1e-12)
    # 0.1 is read as the decimal 1/10, not as the binary double near it
    assert sol.given.exact["W1"][1, 0] == Fraction(1, 10)
    assert sol.given.exact["b1"][0] == Fraction(1, 3)
    # so W1 x + b1 stays exact: 0.2 + 0.1 + 0.15 + 0.2 + 1/3
    assert sol.forward.exact["Z1"][0] == Fraction(13, 20) + Fraction(1, 3)


def test_a_column_given_as_n_by_1_is_accepted():
    sol = nnderive.load(ASSIGNMENT).solve(given={"x": np.array([[1.0], [-1.0], [0.5], [2.0]])})
    assert list(sol.forward.exact["Z1"]) == [Fraction(27, 20), Fraction(7, 20), Fraction(3, 5)]


def test_net_describes_its_tensors():
    net = nnderive.load(ASSIGNMENT)
    assert net.params == ["W1", "b1", "W2", "b2"]
    assert net.tensors["W1"] == {"role": "param", "shape": (3, 4), "has_value": True}
    assert net.tensors["H"]["role"] == "equation"
    assert "param W1[3, 4]" in repr(net)


def test_gradcheck_from_python():
    check = nnderive.load(ASSIGNMENT).gradcheck()
    assert check.ok and check.worst < 1e-6
    assert "W1" in repr(check)
