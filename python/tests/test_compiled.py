"""Networks checked before are kept (`nnderive._COMPILED`, as `re` keeps
compiled patterns): parsing the same name, text and values again reuses the
checked network, and nothing observable differs from checking it anew: the
values (against an independent NumPy backprop), the documents, the errors,
and values changed after parsing."""

import numpy as np
import pytest

import nnderive
from conftest import ASSIGNMENT, assignment_values, numpy_backprop

TEXT = ASSIGNMENT.read_text(encoding="utf-8")


def assert_is_numpys(sol, values):
    expected = numpy_backprop(**values)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(sol.gradients[name], expected[name], rtol=1e-12, atol=1e-15)
    assert abs(sol.loss - expected["L"]) <= 1e-12


def test_the_same_text_reuses_the_checked_network_and_solves_alike():
    nnderive.purge()
    first = nnderive.parse(TEXT)
    cold = first.solve()
    again = nnderive.parse(TEXT)
    assert again._checked is first._checked
    warm = again.solve()
    assert_is_numpys(warm, assignment_values())
    for section in ("given", "forward", "deltas", "gradients", "updated"):
        a, b = getattr(cold, section), getattr(warm, section)
        assert list(a) == list(b)
        for key in a:
            assert np.array_equal(a[key], b[key]), (section, key)
            assert a.formula.get(key) == b.formula.get(key)
    assert warm.text == cold.text and warm.json == cold.json
    nnderive.purge()
    fresh = nnderive.parse(TEXT)
    assert fresh._checked is not first._checked
    assert fresh.solve().text == warm.text


def test_another_name_or_value_is_another_network():
    nnderive.purge()
    net = nnderive.parse(TEXT)
    assert nnderive.parse(TEXT, name="other.nn")._checked is not net._checked
    values = assignment_values()
    values["W1"] = values["W1"] * 2
    doubled = nnderive.parse(TEXT, values={"W1": values["W1"]})
    assert doubled._checked is not net._checked
    assert_is_numpys(doubled.solve(), values)
    # The same values again, as another array: the same network.
    again = nnderive.parse(TEXT, values={"W1": values["W1"].copy()})
    assert again._checked is doubled._checked
    assert_is_numpys(again.solve(), values)
    assert_is_numpys(net.solve(), assignment_values())


def test_values_changed_after_parsing_are_solved_with():
    nnderive.purge()
    net = nnderive.parse(TEXT)
    other = nnderive.parse(TEXT)
    values = assignment_values()
    values["b2"] = np.array([0.5, -0.25])
    net.values["b2"] = values["b2"]
    assert_is_numpys(net.solve(), values)
    # The other Net of that text, and the kept network, are as they were.
    assert_is_numpys(other.solve(), assignment_values())
    assert_is_numpys(nnderive.parse(TEXT).solve(), assignment_values())
    given = dict(assignment_values(), x=np.array([0.0, 1.0, -2.0, 0.25]))
    assert_is_numpys(other.solve(given={"x": given["x"]}), given)


def test_each_net_has_its_own_tensors():
    nnderive.purge()
    a = nnderive.parse(TEXT)
    a.tensors["W1"]["role"] = "changed"
    del a.tensors["b1"]
    b = nnderive.parse(TEXT)
    assert b.tensors["W1"]["role"] == "param" and "b1" in b.tensors


def test_errors_are_raised_again_and_never_kept():
    nnderive.purge()
    bad = TEXT.replace("W1 @ x", "W1 @ y")
    messages = []
    for _ in range(2):
        with pytest.raises(nnderive.NNError) as raised:
            nnderive.parse(bad)
        messages.append((str(raised.value), raised.value.line, raised.value.column))
    assert messages[0] == messages[1] and messages[0][1] is not None
    for _ in range(2):
        with pytest.raises(nnderive.NNError, match="not a number"):
            nnderive.parse(TEXT, values={"W1": [["a"] * 4] * 3})
    assert len(nnderive._COMPILED) == 0


def test_the_kept_networks_are_bounded():
    nnderive.purge()
    for i in range(3 * nnderive._COMPILED_NETWORKS):
        nnderive.parse(TEXT + f"\n# variant {i}\n")
    assert len(nnderive._COMPILED) == nnderive._COMPILED_NETWORKS
    # The most recently used are kept.
    assert (("<string>", TEXT + f"\n# variant {3 * nnderive._COMPILED_NETWORKS - 1}\n", ())) in nnderive._COMPILED
    nnderive.purge()
    assert len(nnderive._COMPILED) == 0
