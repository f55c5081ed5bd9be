"""Every problem with what is given raises nnderive.NNError (a ValueError):
text that is not characters, values that are not finite numbers in even
rows, settings the command line refuses; and the notebook display shows a
network's name as text, never as HTML."""

import math
import re
import sys
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import nnderive

SCALAR = "param w = 1\nloss L = w * w\n"
MATRIX = "input x[2] = [1, 2]\nparam W[2,2]\nloss L = sum(W @ x)\n"


def raised(call):
    with pytest.raises(nnderive.NNError) as caught:
        call()
    return caught.value


def test_nnerror_is_a_value_error():
    assert issubclass(nnderive.NNError, ValueError)


# ---------------------------------------------------------------------------
# The text.


@pytest.mark.parametrize("surrogate", ["\udc80", "\udcff", "\ud800", "\udfff", "\ud83d"])
def test_a_lone_surrogate_in_the_text_is_located(surrogate):
    line = f"loss L = w * w  # caf{surrogate} au lait"
    e = raised(lambda: nnderive.parse(f"param w = 1\n{line}\n", name="net.nn"))
    assert e.message == f"the text holds a lone surrogate (U+{ord(surrogate):04X}), which is not a character"
    column = line.index(surrogate) + 1
    assert (e.line, e.column) == (2, column)
    assert f" --> net.nn:2:{column}" in str(e)


def test_a_lone_surrogate_in_a_name_is_shown_as_a_replacement():
    net = nnderive.parse(SCALAR, name="net\udc80.nn")
    assert net.name == "net\ufffd.nn"
    e = raised(lambda: nnderive.parse(SCALAR, values={"w\udc80": 1}))
    assert e.message == "a value is given for 'w\ufffd', but the file declares no 'w\ufffd'"


def test_text_as_bytes_or_something_else():
    assert nnderive.parse(SCALAR.encode()).solve().loss == 1.0
    e = raised(lambda: nnderive.parse(b"param w = 1\nloss L = w \xff\n", name="b.nn"))
    assert (e.line, e.column) == (2, 12) and "not valid UTF-8" in e.message
    e = raised(lambda: nnderive.parse(None))
    assert e.message == "the text of a .nn file is a str (or bytes in UTF-8), not NoneType"
    assert (e.line, e.column) == (None, None) and str(e) == f"error: {e.message}"


def test_load_takes_a_path_with_undecodable_bytes(tmp_path):
    path = tmp_path / "n\udcffet.nn" if sys.platform != "win32" else tmp_path / "net.nn"
    try:
        path.write_text(SCALAR)
    except (UnicodeEncodeError, OSError):
        pytest.skip("the file system does not take undecodable names")
    net = nnderive.load(path)
    assert "\ufffd" in net.name and net.solve().loss == 1.0


# ---------------------------------------------------------------------------
# Given values: at the declaration, with what is wrong and where.


@pytest.mark.parametrize("value, shown", [
    (float("nan"), "nan"), (math.inf, "inf"), (-math.inf, "-inf"), (np.float32("nan"), repr(np.float32("nan"))),
    (Decimal("NaN"), "Decimal('NaN')"), ("nan", "'nan'"), ("-inf", "'-inf'"),
])
def test_a_number_that_is_not_finite(value, shown):
    e = raised(lambda: nnderive.parse(SCALAR, name="s.nn", values={"w": value}))
    assert e.message == f"the value given for 'w' holds {shown}, which is not a finite number"
    assert (e.line, e.column) == (1, 1)
    assert "'w' is declared a scalar here" in str(e)


@pytest.mark.parametrize("value, shown", [
    ("abc", "'abc'"), (None, "None"), (True, "True"), (np.bool_(False), "np.False_" if np.__version__ >= "2" else "False"),
    (1 + 2j, "(1+2j)"), (object, "<class 'object'>"), ("1/0", "'1/0'"), ("", "''"),
])
def test_an_entry_that_is_not_a_number(value, shown):
    e = raised(lambda: nnderive.parse(SCALAR, values={"w": value}))
    assert e.message == f"the value given for 'w' holds {shown}, which is not a number"


def test_the_place_of_a_bad_entry_counts_from_zero():
    e = raised(lambda: nnderive.parse(MATRIX, name="m.nn", values={"W": [[1, 2], [3, float("nan")]]}))
    assert e.message == "the value given for 'W' holds nan at [1, 1], which is not a finite number"
    assert (e.line, e.column) == (2, 1)
    e = raised(lambda: nnderive.parse(MATRIX, values={"W": np.array([[1.0, np.inf], [3.0, 4.0]])}))
    assert e.message == "the value given for 'W' holds inf at [0, 1], which is not a finite number"
    e = raised(lambda: nnderive.parse(MATRIX, values={"W": [[1, 2], ["x", 4]]}))
    assert e.message == "the value given for 'W' holds 'x' at [1, 0], which is not a number"
    e = raised(lambda: nnderive.parse(MATRIX).solve(given={"W": [[1, 2], [3, None]]}))
    assert e.message == "the value given for 'W' holds None at [1, 1], which is not a number"


@pytest.mark.parametrize("value, what", [
    ([[1, 2], [3]], "the list at [1] has 1 entry where the first has 2 entries"),
    ([[1, 2], 3], "a number at [1] stands where the first item is a list of 2 entries"),
    ([1, [2, 3]], "a list of 2 entries at [1] stands where the first item is a number"),
    ([[[1], [2]], [[3], [4, 5]]], "the list at [1, 1] has 2 entries where the first has 1 entry"),
    (np.array([[1, 2], [3]], dtype=object), "the list at [1] has 1 entry where the first has 2 entries"),
])
def test_ragged_lists(value, what):
    e = raised(lambda: nnderive.parse(MATRIX, name="m.nn", values={"W": value}))
    assert e.message == f"the value given for 'W' is ragged: {what}"
    assert (e.line, e.column) == (2, 1)
    assert "help: give nested lists of equal lengths, or an array, of shape [2, 2]" in str(e)


def test_a_fault_for_an_unknown_name_names_the_name():
    e = raised(lambda: nnderive.parse(MATRIX, values={"Q": [[1], [2, 3]]}))
    assert e.message == "a value is given for 'Q', but the file declares no 'Q'"


def test_values_past_pythons_digit_limit_stay_exact():
    # Python converts at most 4 300 decimal digits of an int to text.
    big = Fraction(10**5000 + 1, 10**5000)
    sol = nnderive.parse(SCALAR, values={"w": big}).solve()
    assert sol.given.exact["w"] == big
    # w² is past the size at which exact arithmetic gives way to f64.
    assert sol.loss == 1.0 and sol.loss_exact is None
    # An int, and decimal text, of more than 4 300 digits.
    net = nnderive.parse(SCALAR, values={"w": 10**4400})
    e = raised(net.solve)  # w² = 10^8800 is past f64, once past exact arithmetic's size
    assert e.message == "cannot compute L: the value overflows f64"
    digits = "7" * 5000
    sol = nnderive.parse(SCALAR, values={"w": f"0.{digits}"}).solve()
    assert sol.given.exact["w"] == Fraction(int("7" * 4000) * 10**1000 + int("7" * 1000), 10**5000)


def test_decimal_text_and_decimals_are_exact_and_bounded():
    sol = nnderive.parse(SCALAR, values={"w": "1/3"}).solve()
    assert sol.given.exact["w"] == Fraction(1, 3)
    sol = nnderive.parse(SCALAR, values={"w": Decimal("0.12345678901234567890123")}).solve()
    assert sol.given.exact["w"] == Fraction("0.12345678901234567890123")
    for text in ["1e5000", "1e-1001", Decimal("1e2000")]:
        e = raised(lambda: nnderive.parse(SCALAR, values={"w": text}))
        assert e.message.endswith("whose exponent is past ±1000"), e.message
    assert nnderive.parse(SCALAR, values={"w": "1e-1000"}).solve().given.exact["w"] == Fraction(1, 10**1000)


def test_values_must_be_a_mapping():
    e = raised(lambda: nnderive.parse(SCALAR, values=[("w", 1)]))
    assert e.message == "values are given as a mapping from names to values, not list"
    e = raised(lambda: nnderive.parse(SCALAR).solve(given=3))
    assert e.message == "given values are a mapping from names to values, not int"


# ---------------------------------------------------------------------------
# Settings: refused as the command line refuses them.


@pytest.mark.parametrize("tolerance, shown", [
    (float("nan"), "nan"), (-1, "-1"), (-1e-6, "-1e-06"), (0, "0"), (0.0, "0.0"), (math.inf, "inf"),
])
def test_a_tolerance_that_is_not_positive_and_finite(tolerance, shown):
    e = raised(lambda: nnderive.parse(SCALAR).gradcheck(tolerance=tolerance))
    assert e.message == f"invalid tolerance {shown}: it must be a positive, finite number such as 1e-6"
    assert str(e) == f"error: {e.message}"


@pytest.mark.parametrize("tolerance", ["1e-6", None, True, [1e-6]])
def test_a_tolerance_that_is_not_a_number(tolerance):
    e = raised(lambda: nnderive.parse(SCALAR).gradcheck(tolerance=tolerance))
    assert e.message == f"invalid tolerance {tolerance!r}: it is not a number"


def test_a_good_tolerance_still_checks():
    assert nnderive.parse(SCALAR).gradcheck(tolerance=1e-3).ok
    assert nnderive.parse(SCALAR).gradcheck(tolerance=np.float32(1e-3)).ok


@pytest.mark.parametrize("round", [-1, 31, True, 2.5, "2"])
def test_round_is_a_whole_number_from_0_to_30(round):
    e = raised(lambda: nnderive.parse(SCALAR).solve(round=round))
    assert e.message == f"round must be a whole number from 0 to 30, not {round!r}"


def test_compare_settings():
    sol = nnderive.parse(SCALAR).solve()
    assert sol.compare({"w": 2.0}).ok
    for kwargs, message in [
        ({"layout": "rows"}, "layout must be 'column' (as in the file) or 'row' (transposed), not 'rows'"),
        ({"rtol": float("nan")}, "rtol must be a finite number, 0 or more, not nan"),
        ({"atol": -1.0}, "atol must be a finite number, 0 or more, not -1.0"),
    ]:
        e = raised(lambda: sol.compare({"w": 2.0}, **kwargs))
        assert e.message == message
    result = sol.compare({"w": 2.0, 3: 1.0})
    assert not result.ok and result["3"].status == "extra"


# ---------------------------------------------------------------------------
# The notebook display.


HOSTILE = ["<img src=x onerror=alert(1)>.nn", "`<b>x</b>`", "a & b <script>", "[link](javascript:x) *em* _u_ \\",
           "esc\x1b[2J.nn", "two\n\nlines<i>"]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_name_is_shown_as_text(name):
    md = nnderive.parse(SCALAR, name=name)._repr_markdown_()
    first = md.split("\n\n", 1)[0]
    assert first.startswith("<code>") and first.endswith("</code>")
    inner = first[len("<code>"):-len("</code>")]
    # No tag, no raw character Markdown would act on, no control character.
    assert "<" not in inner and ">" not in inner and "\x1b" not in inner and "\n" not in inner
    assert not re.search(r"(?<!\\)[`*_\[\]()]", inner), inner


def test_the_text_stays_in_its_fence():
    text = "param w = 1  # ``` <img src=x onerror=alert(1)>\n# ````\nloss L = w * w\n"
    md = nnderive.parse(text, name="n.nn")._repr_markdown_()
    fence = md.split("\n")[2]
    assert fence == "`````"
    assert md.endswith(f"{fence}\n") and md.count(fence) == 2
    assert text.rstrip() in md


def test_an_error_message_does_not_carry_html_as_markup():
    # The message is text for a terminal; a notebook shows the exception as text.
    e = raised(lambda: nnderive.parse(SCALAR, name="<img src=x onerror=alert(1)>", values={"w": "<b>"}))
    assert e.message == "the value given for 'w' holds '<b>', which is not a number"
