"""nnderive in Python: derive and compute neural-network gradients the way a
textbook writes them, from a ``.nn`` file, in a notebook::

    import nnderive
    net = nnderive.load("grammar/examples/assignment4.nn")
    sol = net.solve(round=4)
    sol.gradients["W1"]         # a float64 numpy.ndarray
    sol.forward.exact["Z1"]     # Fractions: 27/20, 7/20, 3/5
    sol                         # in Jupyter: the worked solution, rendered
    net.graph()                 # in Jupyter: the computational graph (SVG)

The Rust library does all the work (parsing, checking, the symbolic
derivation, exact evaluation, the documents); this layer turns its JSON into
NumPy arrays and ``fractions.Fraction`` values, and compares a student's
gradients with the derived ones (:meth:`Solution.compare`).
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from . import _native
from ._compare import Comparison, ParamComparison, compare_quantities
from ._grade import GradePart, GradeResult

__all__ = [
    "NNError",
    "Net",
    "Derivation",
    "Solution",
    "Section",
    "GradCheck",
    "Graph",
    "Comparison",
    "ParamComparison",
    "GradeResult",
    "GradePart",
    "load",
    "parse",
    "check_gradients",
    "grade",
]

__version__ = "0.1.0"


class NNError(ValueError):
    """An error about a ``.nn`` file, about a value given for it, or about
    an argument (a tolerance, a rounding): every problem with what was
    given raises it. It is a ``ValueError``, as ``json.JSONDecodeError`` is.

    ``str(error)`` is the located message the command line prints (the
    message, ``--> file:line:column``, the source line with a marker under
    the fault, and help), for every error the checker found, in file order,
    with a summary line when there are several. ``line``, ``column`` and
    ``message`` describe the first: ``line`` and ``column`` are 1-based, or
    ``None`` for an error about the file as a whole or about an argument;
    ``message`` is its first line alone.
    """

    def __init__(self, rendered: str, line: Optional[int] = None, column: Optional[int] = None, message: str = ""):
        super().__init__(rendered)
        self.rendered = rendered
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return self.rendered.rstrip("\n")


def _native_call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except _native.NativeError as e:
        raise NNError(*e.args) from None


def _argument_error(message: str) -> NNError:
    """An error about an argument of a call rather than about the file."""
    message = _native.visible_line(_no_surrogates(message))
    return NNError(f"error: {message}\n", None, None, message)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _no_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD: for names, which are
    only shown (a path listed by ``os.listdir`` keeps undecodable bytes as
    surrogates)."""
    return _SURROGATES.sub("\ufffd", text)


def _text(text: Any, name: str) -> str:
    """The text of a ``.nn`` file as the native library takes it: a str
    holding only characters (a lone surrogate is an error at its place, as
    a file's bad byte is), or bytes in UTF-8."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        return _native_call(_native.decode, name, bytes(text))
    if not isinstance(text, str):
        raise _argument_error(f"the text of a .nn file is a str (or bytes in UTF-8), not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Encoded as if they were characters, the surrogates are bytes
        # that are not UTF-8: the native decoder names and places them.
        _native_call(_native.decode, name, text.encode("utf-8", "surrogatepass"))
    return text


# ---------------------------------------------------------------------------
# Values from Python into the file: exact fractions, never rounded floats.


class _Fault(Exception):
    """What is wrong with a value, for the native layer to report at the
    tensor's declaration: ``(kind, index, found, expected, found_len)``."""

    def __init__(self, kind: str, found: str = "", expected: Optional[int] = None, found_len: Optional[int] = None):
        super().__init__(kind)
        self.kind, self.found, self.expected, self.found_len = kind, found, expected, found_len
        self.index: Tuple[int, ...] = ()

    def native(self) -> Tuple[str, List[int], str, Optional[int], Optional[int]]:
        return (self.kind, list(self.index), _no_surrogates(self.found), self.expected, self.found_len)


# The exponents a file's numbers may have: past them an exact value grows
# without bound (1e999999999 has a billion digits).
_MAX_EXPONENT = 1000


def _shown(x: Any) -> str:
    """An entry as an error message quotes it (long ones cut)."""
    try:
        text = repr(x)
    except Exception:  # a repr that fails is still an entry that is not a number
        text = f"a {type(x).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _decimal(d: Decimal, x: Any) -> Fraction:
    if not d.is_finite():
        raise _Fault("not_finite", _shown(x))
    if abs(d.adjusted()) > _MAX_EXPONENT:
        raise _Fault("exponent", _shown(x))
    return Fraction(*d.as_integer_ratio())


def _fraction(x: Any) -> Fraction:
    """An entry as an exact fraction: a float as the decimal it prints as
    (0.1 is 1/10, not the binary double nearest to it)."""
    if isinstance(x, (bool, np.bool_)):
        raise _Fault("not_number", _shown(x))
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, Decimal):
        return _decimal(x, x)
    if isinstance(x, str):
        # `1/3`, `0.25`, `-2e-3`: read as Decimals, which have no digit limit.
        numerator, slash, denominator = x.strip().partition("/")
        try:
            value = _decimal(Decimal(numerator), x)
            if slash:
                value /= _decimal(Decimal(denominator), x)
            return value
        except (InvalidOperation, ZeroDivisionError):
            raise _Fault("not_number", _shown(x)) from None
    try:
        v = float(x)
    except Exception:  # whatever an object's __float__ raises, it is not a number
        raise _Fault("not_number", _shown(x)) from None
    if not math.isfinite(v):
        raise _Fault("not_finite", _shown(x))
    return Fraction(repr(v))


def _hex(f: Fraction) -> str:
    """``f`` as the native layer reads it, ``"-1b/14"``: in hexadecimal,
    which Python converts without a digit limit (decimal stops at 4 300)."""
    sign = "-" if f.numerator < 0 else ""
    return f"{sign}{abs(f.numerator):x}/{f.denominator:x}"


def _is_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim > 0)


def _shape_and_entries(value: Any) -> Tuple[List[int], List[Tuple[Tuple[int, ...], Any]]]:
    """The dims of nested lists (or an array) and its entries row-major,
    each with its index; nested lists of different lengths are a fault.
    One pass per depth, so the work is linear in the entries."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        return list(value.shape), [((), x) for x in value.ravel().tolist()]
    level: List[Tuple[Tuple[int, ...], Any]] = [((), value)]
    dims: List[int] = []
    while level and any(_is_list(x) for _, x in level):
        first = len(level[0][1]) if _is_list(level[0][1]) else None
        for index, x in level:
            length = len(x) if _is_list(x) else None
            if length != first:
                fault = _Fault("ragged", expected=first, found_len=length)
                fault.index = index
                raise fault
        dims.append(first or 0)
        level = [(index + (i,), y) for index, x in level for i, y in enumerate(x)]
    return dims, level


def _given(values: Any) -> List[Tuple[str, List[int], List[str], Optional[Tuple[str, List[int], str, Optional[int], Optional[int]]]]]:
    """Each given value as the native layer takes it: its name, dims and
    exact entries, or what is wrong with it (reported at its declaration)."""
    if not isinstance(values, Mapping):
        raise _argument_error(f"values are given as a mapping from names to values, not {type(values).__name__}")
    out = []
    for name, value in values.items():
        name = _no_surrogates(str(name))
        try:
            dims, entries = _shape_and_entries(value)
            exact = []
            for index, x in entries:
                try:
                    exact.append(_hex(_fraction(x)))
                except _Fault as fault:
                    flat = len(exact)
                    fault.index = index or (tuple(int(i) for i in np.unravel_index(flat, dims)) if dims else ())
                    raise
            out.append((name, dims, exact, None))
        except _Fault as fault:
            out.append((name, [], [], fault.native()))
    return out


# ---------------------------------------------------------------------------
# Values from the JSON contract into NumPy.


def _array(value: Any) -> np.ndarray:
    """JSON numbers (nested one list per dimension) as a float64 array; a
    null (a non-finite value) becomes NaN."""
    return np.array(value, dtype=np.float64)


def _exact(text: str) -> Fraction:
    """``"27/20"`` as a Fraction, however many digits it has: past 4 300
    digits Python's int() refuses decimal text, and Decimal reads it."""
    if len(text) < 4000:
        return Fraction(text)
    numerator, _, denominator = text.partition("/")
    return Fraction(*Decimal(numerator).as_integer_ratio()) / Fraction(*Decimal(denominator or "1").as_integer_ratio())


def _fractions(exact: Any) -> Any:
    """``"27/20"`` strings as Fractions, in an object array of the same shape
    (a bare Fraction for a scalar)."""
    if exact is None:
        return None
    if isinstance(exact, str):
        return _exact(exact)
    strings = np.array(exact, dtype=object)
    out = np.empty(strings.shape, dtype=object)
    for index, s in np.ndenumerate(strings):
        out[index] = _exact(s)
    return out


_GREEK = {"δ": "delta", "∂": "d", "ŷ": "yhat"}


def _ascii(key: str) -> str:
    """An ASCII spelling of a JSON key: ``δ1`` is ``delta1``, ``∂L/∂H`` is ``dL/dH``."""
    for k, v in _GREEK.items():
        key = key.replace(k, v)
    return key


class _Named(dict):
    """A dict whose keys also answer to their ASCII spellings (``delta1`` for ``δ1``)."""

    def __init__(self, title: str, aliases: Dict[str, str]):
        super().__init__()
        self.title = title
        self._aliases = aliases

    def __missing__(self, key: str):
        canonical = self._aliases.get(key)
        if canonical is not None and dict.__contains__(self, canonical):
            return self[canonical]
        known = ", ".join(self.keys())
        raise KeyError(f"{key!r}: the {self.title} are {known or 'none'}")

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._aliases.get(key, key))  # type: ignore[arg-type]

    def get(self, key, default=None):
        return self[key] if key in self else default


class Section(_Named):
    """Named values of one part of a solution: ``name → numpy.ndarray``
    (float64), in file order. Alongside, keyed alike:

    - ``exact[name]``: the exact values as ``fractions.Fraction`` (an object
      array of the same shape, a bare Fraction for a scalar), or ``None``
      where the value went through a transcendental function;
    - ``formula[name]`` and ``latex[name]``: the formula (Unicode text and
      LaTeX), and ``name_latex[name]``, the quantity's own name in LaTeX.

    Keys with Greek letters have ASCII spellings too: ``deltas["delta1"]``
    is ``deltas["δ1"]``.
    """

    def __init__(self, title: str, entries: Mapping[str, Mapping[str, Any]]):
        aliases = {_ascii(k): k for k in entries if _ascii(k) != k}
        super().__init__(title, aliases)
        self.exact = _Named(f"{title} (exact)", aliases)
        self.formula = _Named(f"{title} with a formula", aliases)
        self.latex = _Named(f"{title} with a formula", aliases)
        self.name_latex = _Named(f"{title} with a formula", aliases)
        for key, obj in entries.items():
            if "value" in obj:
                self[key] = _array(obj["value"])
                self.exact[key] = _fractions(obj.get("exact"))
            for field, store in (("formula", self.formula), ("latex", self.latex), ("name_latex", self.name_latex)):
                if field in obj:
                    store[key] = obj[field]

    def rows(self) -> List[Tuple[str, str]]:
        """``(name, formula)`` in LaTeX, for each quantity with a formula."""
        return [(self.name_latex[k], self.latex[k]) for k in self.latex if k in self.name_latex]


# ---------------------------------------------------------------------------
# Display helpers.


# Markdown's punctuation, each written with a backslash so that it shows as
# itself; `<`, `>`, `&` and quotes are written as HTML entities instead.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _inline(text: str) -> str:
    """``text`` (a file's name) as inline Markdown that shows it as it is:
    no HTML, no emphasis or link, a control character as its picture."""
    text = _native.visible_line(_no_surrogates(text))
    return html.escape(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=True)


def _aligned(rows: List[Tuple[str, str]]) -> str:
    body = " \\\\\n".join(f"{lhs} &= {rhs}" for lhs, rhs in rows)
    return f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$"


def _formula_rows(forward: Section, loss: Mapping[str, Any], deltas: Section, gradients: Section) -> List[Tuple[str, str]]:
    rows = forward.rows()
    if "latex" in loss:
        rows.append((loss["name_latex"], loss["latex"]))
    return rows + deltas.rows() + gradients.rows()


# ---------------------------------------------------------------------------
# The objects a notebook works with.


class Derivation:
    """The symbolic derivation (``nnderive derive``): every formula, no numbers.

    ``forward``, ``deltas`` and ``gradients`` hold ``formula[name]`` (text)
    and ``latex[name]``; ``loss`` the loss's ``formula``/``latex``; ``text``
    the derivation with every step as the command line prints it; ``notes``
    its conventions. In Jupyter it shows rendered by MathJax.
    """

    def __init__(self, data: Mapping[str, Any], text: str):
        self.json = data
        self.text = text
        self.forward = Section("forward quantities", data["forward"])
        self.deltas = Section("error terms", data["deltas"])
        self.gradients = Section("gradients", data["gradients"])
        self.loss = dict(data["loss"])
        self.notes: List[str] = list(data["notes"])

    def __repr__(self) -> str:
        return self.text.rstrip("\n")

    def _repr_latex_(self) -> str:
        return _aligned(_formula_rows(self.forward, self.loss, self.deltas, self.gradients))

    def _repr_markdown_(self) -> str:
        def block(title: str, section: Section, with_loss: bool = False) -> str:
            rows = section.rows()
            if with_loss and "latex" in self.loss:
                rows.append((self.loss["name_latex"], self.loss["latex"]))
            return f"### {title}\n\n{_aligned(rows)}\n" if rows else ""

        parts = ["## Derivation\n", block("Forward pass", self.forward, True), block("Error terms", self.deltas), block("Gradients", self.gradients)]
        if self.notes:
            parts.append("### Conventions\n\n" + "\n".join(f"- {n}" for n in self.notes) + "\n")
        parts.append("<details><summary>Every step</summary>\n\n```text\n" + self.text + "```\n\n</details>\n")
        return "\n".join(p for p in parts if p)


class GradCheck:
    """The finite-difference check of every derived gradient (``nnderive gradcheck``)."""

    def __init__(self, worst: float, text: str, tolerance: float):
        self.worst = worst
        self.text = text
        self.tolerance = tolerance
        self.ok = worst <= tolerance

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.text.rstrip("\n")


class Graph:
    """The computational graph (``nnderive graph``): a node per tensor with
    its shape, a node per equation's operation, inputs, targets, parameters
    and the loss styled apart; a recurrence as one step with its loop; with
    ``grad=True``, the backward flow and each error term and gradient beside
    its node.

    ``source`` is the DOT text, always there (Graphviz is not needed for
    it). In Jupyter the graph shows as SVG drawn by Graphviz's ``dot``
    (``_repr_svg_``); :meth:`svg` returns that SVG. Both raise
    :class:`NNError` when ``dot`` is not on the PATH (Debian and Ubuntu:
    ``apt-get install graphviz``).
    """

    def __init__(self, source: str):
        self.source = source

    def svg(self) -> str:
        """The graph as an SVG document, drawn by Graphviz's ``dot``."""
        return _native_call(_native.graph_svg, self.source)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return self.source.rstrip("\n")


class Solution:
    """The worked solution (``nnderive solve``).

    Values are float64 ``numpy.ndarray``s at full precision, by name:
    ``given``, ``forward``, ``deltas`` (``"δ1"`` or ``"delta1"``),
    ``gradients`` and ``updated`` (the parameters after training), each a
    :class:`Section` with ``exact``, ``formula`` and ``latex`` alongside.
    ``loss`` is a float (``loss_exact`` its Fraction, or ``None``;
    ``loss_name``, ``loss_formula`` and ``loss_latex`` say what it is);
    ``history`` the loss before each training step and after the last
    (``history_exact`` likewise); ``training`` the settings (optimizer,
    ``lr``, ``steps``) or ``None``.

    ``round`` only shapes the documents: ``text``, ``markdown`` (shown by
    Jupyter, rendered by MathJax) and ``latex`` (a standalone document for
    pdflatex).
    """

    def __init__(self, net: "Net", data: Mapping[str, Any], text: str, markdown: str, latex: str, round: Optional[int],
                 quantities: Optional[List[Mapping[str, Any]]] = None):
        self.net = net
        #: Every named quantity of the solution (forward values, the loss,
        #: error terms, gradients, updated parameters): ``name``, ``label``,
        #: ``kind``, ``aliases``, ``shape``, ``value`` and ``depends``.
        self.quantities: List[Mapping[str, Any]] = list(quantities or [])
        self.json = data
        self.text = text
        self.markdown = markdown
        self.latex = latex
        self.round = round
        self.given = Section("given values", data["given"])
        self.forward = Section("forward quantities", data["forward"])
        self.deltas = Section("error terms", data["deltas"])
        self.gradients = Section("gradients", data["gradients"])
        self.updated = Section("updated parameters", data["updated"])
        loss = data["loss"]
        self.loss_name: str = loss["name"]
        self.loss_formula: Optional[str] = loss.get("formula")
        self.loss_latex: Optional[str] = loss.get("latex")
        self._loss = loss
        self.loss = float(_array(loss["value"]))
        self.loss_exact = _fractions(loss.get("exact"))
        training = data.get("training")
        if training:
            self.training: Optional[Dict[str, Any]] = {
                "optimizer": training["optimizer"],
                "lr": float(training["lr"]["value"]),
                "lr_exact": _fractions(training["lr"].get("exact")),
                "steps": int(training["steps"]),
            }
        else:
            self.training = None
        history = data.get("history", [])
        self.history = np.array([float(_array(h["value"])) for h in history], dtype=np.float64)
        self.history_exact = [_fractions(h.get("exact")) for h in history]
        self.notes: List[str] = list(data["notes"])

    def compare(self, mine: Optional[Mapping[str, Any]] = None, *, rtol: Optional[float] = None,
                atol: Optional[float] = None, layout: str = "column", **quantities: Any) -> Comparison:
        """Compares your values with the solution's, quantity by quantity.

        ``mine`` maps names to NumPy arrays or nested lists: any named
        quantity of the solution (``"Z1"``, ``"yhat"``, ``"L"``, ``"delta1"``
        or ``"δ1"``, ``"W1"`` or ``"dW1"`` for a gradient, ``"W1_new"`` for a
        parameter after training; :attr:`quantities` lists them all with
        their other spellings); keyword arguments work too
        (``sol.compare(W1=dW1)``). Every parameter's gradient is expected;
        other quantities are compared when given.

        An entry differs when ``|yours − derived| > atol + rtol·|derived|``.
        By default, when the solution was asked at a precision
        (``net.solve(round=4)``), an entry may be off by half a unit of that
        decimal place (``atol=0.00005``, ``rtol=0``), so answers rounded as
        the key prints them match; otherwise ``rtol=1e-5, atol=1e-8``.
        ``layout="row"`` compares the transposes of your matrices (for code
        that computes ``X @ W`` with examples as rows). The result has
        ``ok``, a readable ``repr`` (and HTML in Jupyter), and per quantity
        the largest relative error and the worst entries.
        """
        if mine is not None and not isinstance(mine, Mapping):
            raise _argument_error(f"your values are a mapping from names to arrays, not {type(mine).__name__}")
        for setting, value in (("rtol", rtol), ("atol", atol)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0):
                raise _argument_error(f"{setting} must be a finite number, 0 or more, not {_shown(value)}")
        if layout not in ("column", "row"):
            raise _argument_error(f"layout must be 'column' (as in the file) or 'row' (transposed), not {_shown(layout)}")
        given = {str(k): v for k, v in (mine or {}).items()}
        given.update(quantities)
        rtol, atol = _tolerance(self.round, rtol, atol)
        return compare_quantities(self.quantities, given, rtol=rtol, atol=atol, layout=layout)

    def __repr__(self) -> str:
        return self.text.rstrip("\n")

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_latex_(self) -> str:
        return _aligned(_formula_rows(self.forward, self._loss, self.deltas, self.gradients))


class Net:
    """A checked ``.nn`` network. ``tensors`` maps each name to its ``role``,
    ``shape`` (a tuple) and whether it has a value; ``values`` are the values
    given from Python, which replace the file's."""

    def __init__(self, text: str, name: str = "<string>", values: Optional[Mapping[str, Any]] = None):
        if isinstance(name, (bytes, os.PathLike)):
            name = os.fsdecode(name)
        self.name = _no_surrogates(str(name))
        self.text = _text(text, self.name)
        if values is not None and not isinstance(values, Mapping):
            raise _argument_error(f"values are given as a mapping from names to values, not {type(values).__name__}")
        self.values: Dict[str, Any] = dict(values or {})
        tensors = json.loads(_native_call(_native.check, self.name, self.text, _given(self.values)))
        self.tensors: Dict[str, Dict[str, Any]] = {
            t["name"]: {"role": t["role"], "shape": tuple(t["shape"]), "has_value": t["has_value"]} for t in tensors
        }

    def _values(self, given: Optional[Mapping[str, Any]]) -> list:
        if given is not None and not isinstance(given, Mapping):
            raise _argument_error(f"given values are a mapping from names to values, not {type(given).__name__}")
        values = dict(self.values)
        values.update(given or {})
        return _given(values)

    @property
    def params(self) -> List[str]:
        """The trainable parameters, in file order."""
        return [n for n, t in self.tensors.items() if t["role"] == "param"]

    def derive(self, given: Optional[Mapping[str, Any]] = None) -> Derivation:
        """The symbolic derivation; needs no values."""
        data, text = _native_call(_native.derive, self.name, self.text, self._values(given))
        return Derivation(json.loads(data), text)

    def solve(self, round: Optional[int] = None, given: Optional[Mapping[str, Any]] = None) -> Solution:
        """Every value: forward pass, loss, error terms, gradients, training.

        ``given`` replaces declared values for this call (``{"y": [0, 1]}``);
        ``round`` rounds the documents (text, Markdown, LaTeX), never the arrays.
        """
        if round is not None and (isinstance(round, bool) or not isinstance(round, int) or not 0 <= round <= 30):
            raise _argument_error(f"round must be a whole number from 0 to 30, not {_shown(round)}")
        data, text, markdown, latex, quantities = _native_call(_native.solve, self.name, self.text, self._values(given), round)
        return Solution(self, json.loads(data), text, markdown, latex, round, json.loads(quantities))

    def graph(self, grad: bool = False, given: Optional[Mapping[str, Any]] = None) -> Graph:
        """The computational graph; with ``grad``, the backward flow and
        each gradient beside its node. Needs no values; ``.source`` is the
        DOT text, and Jupyter shows it drawn by Graphviz."""
        return Graph(_native_call(_native.graph, self.name, self.text, self._values(given), bool(grad)))

    def gradcheck(self, tolerance: float = 1e-6, given: Optional[Mapping[str, Any]] = None) -> GradCheck:
        """Checks every derived gradient against central finite differences;
        ``tolerance`` is the largest acceptable relative error, a positive,
        finite number (as the command line's ``--tolerance``)."""
        worst, text = _native_call(_native.gradcheck, self.name, self.text, self._values(given), tolerance)
        return GradCheck(worst, text, float(tolerance))

    def __repr__(self) -> str:
        def shape(s: Tuple[int, ...]) -> str:
            return "[" + ", ".join(map(str, s)) + "]" if s else ""

        parts = [f"{t['role']} {n}{shape(t['shape'])}" for n, t in self.tensors.items() if t["role"] not in ("equation", "loss")]
        return f"<nnderive.Net {self.name}: {', '.join(parts)}>"

    def _repr_markdown_(self) -> str:
        # The name as text, never as HTML or Markdown; the file in a fence
        # longer than any run of backticks in it, so that nothing closes it.
        longest = max((len(run) for run in re.findall("`+", self.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"<code>{_inline(self.name)}</code>\n\n{fence}\n{self.text.rstrip()}\n{fence}\n"


def parse(text: str, name: str = "<string>", values: Optional[Mapping[str, Any]] = None) -> Net:
    """A network from ``.nn`` text (a str, or bytes in UTF-8); raises
    :class:`NNError` if it has an error."""
    return Net(text, name=name, values=values)


def load(path: "os.PathLike[str] | str", values: Optional[Mapping[str, Any]] = None) -> Net:
    """A network from a ``.nn`` file; ``values`` replace declared values
    (``{"W1": np.array(...)}``), checked against the declared shapes."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    return Net(raw, name=path, values=values)


def _tolerance(round: Optional[int], rtol: Optional[float], atol: Optional[float]) -> Tuple[float, float]:
    """The tolerance of a comparison, each part as given or else by default:
    half a unit of the asked decimal place when there is one (``rtol=0``,
    ``atol=0.5·10^−round``), otherwise ``rtol=1e-5, atol=1e-8``."""
    if round is not None:
        default = (0.0, 0.5 * 10.0 ** (-round))
    else:
        default = (1e-5, 1e-8)
    return (default[0] if rtol is None else rtol), (default[1] if atol is None else atol)


def check_gradients(expected: "Solution | Net", mine: Mapping[str, Any], *, rtol: Optional[float] = None,
                    atol: Optional[float] = None, layout: str = "column") -> Comparison:
    """:meth:`Solution.compare` for a solution or a network (solved first)."""
    solution = expected.solve() if isinstance(expected, Net) else expected
    return solution.compare(mine, rtol=rtol, atol=atol, layout=layout)


def _plain(value: Any) -> Any:
    """An answer as JSON can hold it: arrays as nested lists, a number that
    is not finite (or anything not a number) as text, which grading then
    names as an entry it cannot read."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else str(float(value))
    if isinstance(value, Fraction):
        return float(value)
    if value is None or isinstance(value, (str, dict)):
        return value
    return str(value)


def grade(net: "Net", answers: "Mapping[str, Any] | os.PathLike[str] | str", *, round: int = 4,
          weights: Optional[Mapping[str, float]] = None) -> GradeResult:
    """Grades a student's answers against the network's solution, as
    ``nnderive grade`` does, for an nbgrader or Otter autograder cell.

    ``answers`` maps names to values (NumPy arrays, nested lists, numbers;
    any name :meth:`Solution.compare` takes, ``"weights"`` for points per
    part), or is the path of a JSON or CSV answers file. Each part is
    ``correct`` (every entry within half a unit of the ``round``-th
    decimal), ``consistent`` (wrong, but right from the student's own
    earlier answers: error carried forward, full credit), ``wrong``,
    ``missing`` or ``unreadable``. ``weights`` (name → points) grades only
    the parts it names; without it, a ``"weights"`` entry of the answers
    does, else every part is worth 1.

    The result has ``score``, ``max``, ``parts`` and ``problems``, and shows
    as the text report (HTML in Jupyter).
    """
    if not (isinstance(round, int) and 0 <= round <= 12):
        raise ValueError(f"round must be a whole number from 0 to 12, not {round!r}")
    if isinstance(answers, (str, os.PathLike)):
        path = os.fspath(answers)
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        fmt = "csv" if path.lower().endswith(".csv") or not text.lstrip().startswith("{") else "json"
    else:
        text = json.dumps({str(k): _plain(v) for k, v in answers.items()})
        fmt = "json"
    weights_json = None if weights is None else json.dumps({str(k): _plain(v) for k, v in weights.items()})
    data, report = _native_call(_native.grade, net.name, net.text, net._values(None), text, fmt, round, weights_json)
    return GradeResult(json.loads(data), report)
