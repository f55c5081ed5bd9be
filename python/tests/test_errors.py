"""Errors raise nnderive.NNError carrying the same located message as the
command line (the reviewed snapshots of tests/errors.rs), with line and column."""

import re

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, ERROR_FIXTURES, SNAPSHOTS

# Files that leave a value open, by the declaration and its line: the command
# line computes with the value open (its snapshot shows where that stops),
# while the package, whose values are NumPy arrays, refuses the file first
# and names the declaration.
OPEN = {"solve_open_value_in_conv.nn": ("param", "K", 4), "solve_too_many_unknowns.nn": ("param", "W", 3)}
# Likewise for files that leave several values open (the command line then
# stops at the work budget, the package at the first declaration).
OPEN_SEVERAL = {"solve_too_much_work_one_pass.nn": ("param 'A', param 'B' have no values", 2)}
FIXTURES = sorted(f for f in ERROR_FIXTURES.glob("*.nn") if f.name not in OPEN and f.name not in OPEN_SEVERAL)


def snapshot_body(path):
    """The rendered error of a reviewed insta snapshot (after its header)."""
    text = path.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1]


def test_there_are_fixtures():
    assert len(FIXTURES) > 40


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_error_message_is_the_cli_message(fixture):
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.parse(fixture.read_text(encoding="utf-8"), name=fixture.name).solve()
    error = caught.value
    expected = snapshot_body(SNAPSHOTS / f"error@{fixture.name}.snap")
    assert error.rendered.rstrip("\n") == expected.rstrip("\n")
    assert str(error) == expected.rstrip("\n")
    assert error.message and expected.startswith(f"error: {error.message}")
    place = re.search(rf"--> {re.escape(fixture.name)}:(\d+):(\d+)", expected)
    if place:
        assert (error.line, error.column) == (int(place[1]), int(place[2]))
    else:
        assert (error.line, error.column) == (None, None)


@pytest.mark.parametrize("name", sorted(OPEN))
def test_a_value_left_open_is_refused_by_name(name):
    role, tensor, line = OPEN[name]
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.parse((ERROR_FIXTURES / name).read_text(encoding="utf-8"), name=name).solve()
    error = caught.value
    assert error.message == f"solve in Python (NumPy arrays) needs every number, and {role} '{tensor}' has no value"
    assert (error.line, error.column) == (line, 1)


@pytest.mark.parametrize("name", sorted(OPEN_SEVERAL))
def test_values_left_open_are_refused_by_name(name):
    names, line = OPEN_SEVERAL[name]
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.parse((ERROR_FIXTURES / name).read_text(encoding="utf-8"), name=name).solve()
    error = caught.value
    assert error.message == f"solve in Python (NumPy arrays) needs every number, and {names}"
    assert (error.line, error.column) == (line, 1)


def test_unknown_name_is_located():
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.parse("input x[2] = [1, 2]\nparam W[1,2]\nZ = W @ q\nloss L = sum(Z)\n", name="net.nn")
    e = caught.value
    assert (e.line, e.column) == (3, 9)
    assert e.message == "unknown name 'q'"
    assert str(e).splitlines()[1] == " --> net.nn:3:9"


def test_load_names_the_file_and_rejects_bad_utf8(tmp_path):
    path = tmp_path / "bad.nn"
    path.write_bytes(b"input x[2] = [1, 2]\nparam p = \xff\n")
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.load(path)
    assert "UTF-8" in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_value_is_an_error_of_solve_not_of_derive():
    net = nnderive.parse("input x[2]\nparam W[1,2] = [[1, 2]]\nloss L = sum(W @ x)\n", name="m.nn")
    assert "δ" in repr(net.derive()) or "∂L/∂W" in repr(net.derive())
    with pytest.raises(nnderive.NNError, match="input 'x' has no value") as caught:
        net.solve()
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_given_value_of_the_transposed_shape_says_so():
    with pytest.raises(nnderive.NNError) as caught:
        nnderive.load(ASSIGNMENT, values={"W1": np.zeros((4, 3))})
    e = caught.value
    assert e.message == "the value given for 'W1' is [4, 3], but 'W1' is declared [3, 4]"
    assert (e.line, e.column) == (4, 1)
    assert "transpose" in str(e)


def test_given_value_for_an_unknown_name_or_an_equation():
    net = nnderive.load(ASSIGNMENT)
    with pytest.raises(nnderive.NNError, match="declares no 'W3'(.|\n)*did you mean 'W1'"):
        net.solve(given={"W3": np.zeros((2, 3))})
    with pytest.raises(nnderive.NNError, match="an equation defines it"):
        net.solve(given={"Z1": [0, 0, 0]})
    with pytest.raises(nnderive.NNError, match="holds 'a' at \\[0\\], which is not a number"):
        net.solve(given={"b1": ["a", None, 1]})
    with pytest.raises(nnderive.NNError, match="holds nan at \\[0\\], which is not a finite number"):
        net.solve(given={"b1": [np.nan, 0, 1]})
