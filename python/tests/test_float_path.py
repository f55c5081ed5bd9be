"""`solve()` computes its values in f64 from the given values on
(`eval::fast`); the exact solution is made only when a document, a fraction
or the notes are read. What holds, checked against the command line's JSON
(exact values correctly rounded to f64, the rest computed in f64 from there):

- a given value is the command line's, to the bit;
- every other value is within RELATIVE of the command line's, relative to
  the largest entry of that value (or 1, if larger);
- where an operand of a discontinuity (relu, step, sign, abs, max/min, a
  max-pool's tie, a division, log, sqrt) comes within 1e-9 of it, the values
  are the exact solution's, to the bit, as the command line's are.
"""

import json

import numpy as np
import pytest

import nnderive
from conftest import ROOT
from test_lazy import SOLVABLE, as_array, cli

RELATIVE = 1e-14


def flat_values(expected, section):
    return {k: as_array(v["value"]) for k, v in expected[section].items() if "value" in v}


@pytest.mark.parametrize("path", SOLVABLE, ids=[p.name for p in SOLVABLE])
def test_f64_values_against_the_command_lines(path):
    expected = json.loads(cli("solve", "--format", "json", path.relative_to(ROOT)))
    sol = nnderive.parse(path.read_bytes(), name=str(path.relative_to(ROOT))).solve()
    exact = sol._native.computed() == "exact"
    for key, value in flat_values(expected, "given").items():
        np.testing.assert_array_equal(sol.given[key], value, err_msg=key)
    for section in ("forward", "deltas", "gradients", "updated"):
        for key, value in flat_values(expected, section).items():
            found = getattr(sol, section)[key]
            if exact:
                np.testing.assert_array_equal(found, value, err_msg=key)
                continue
            finite = np.isfinite(value)
            np.testing.assert_array_equal(found[~finite], value[~finite], err_msg=key)
            scale = max(1.0, float(np.max(np.abs(value[finite]), initial=0.0)))
            error = float(np.max(np.abs(found[finite] - value[finite]), initial=0.0)) / scale
            assert error <= RELATIVE, (section, key, error)


KINK = """input x[2] = [1, -1]
target y[2] = [1, 0]
param W[2,2] = [[0.3, 0.3], [0.1, 0.2]]
Z = W @ x
H = relu(Z)
yhat = softmax(H)
loss L = cross_entropy(y, yhat)
train sgd(lr = 0.1)
"""


def test_an_operand_at_a_kink_is_solved_exactly(tmp_path):
    # Z₁ = 0.3 − 0.3 = 0 exactly; in f64 it is 0 too here, but any value
    # within 1e-9 of the kink is left to exact arithmetic.
    path = tmp_path / "kink.nn"
    path.write_text(KINK)
    sol = nnderive.load(path).solve()
    assert sol._native.computed() == "exact"
    expected = json.loads(cli("solve", "--format", "json", path))
    for section in ("forward", "deltas", "gradients", "updated"):
        for key, value in flat_values(expected, section).items():
            np.testing.assert_array_equal(getattr(sol, section)[key], value, err_msg=key)
    assert sol.notes == expected["notes"]
    assert any("step" in n for n in sol.notes)


def test_values_clear_of_discontinuities_stay_in_f64():
    sol = nnderive.load(ROOT / "grammar" / "examples" / "assignment4.nn").solve()
    assert sol._native.computed() == "float"
    # Z1 = W1 x + b1 = [1.35, 0.35, 0.6]: the f64 sum, within an ulp or so.
    np.testing.assert_allclose(sol.forward["Z1"], [1.35, 0.35, 0.6], rtol=4e-16)
    # The fractions come from the exact solution, made when asked for.
    assert sol._native.computed() == "float" and "notes" not in sol._documents
    assert [str(f) for f in sol.forward.exact["Z1"]] == ["27/20", "7/20", "3/5"]


@pytest.mark.parametrize("name", ["assignment4_adam", "lstm", "cnn_two_conv", "rnn", "attention"])
def test_solving_a_net_again_gives_the_same_solution(name):
    # The second solve of a Net reuses its derivation and its skeleton, and
    # reads the values from the new solution: the same as a fresh parse's.
    path = ROOT / "grammar" / "examples" / f"{name}.nn"
    net = nnderive.load(path)
    first, again = net.solve(), net.solve()
    fresh = nnderive.load(path).solve()
    for section in ("given", "forward", "deltas", "gradients", "updated"):
        for key in getattr(fresh, section):
            a, b, c = (getattr(s, section)[key] for s in (first, again, fresh))
            np.testing.assert_array_equal(a, c, err_msg=key)
            np.testing.assert_array_equal(b, c, err_msg=key)
            assert b is not a  # each solve hands out arrays of its own
    np.testing.assert_array_equal(again.history, fresh.history)
    assert again.training == fresh.training and again.text == fresh.text
    assert again.forward.exact.keys() == fresh.forward.exact.keys()
