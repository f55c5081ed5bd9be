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

import collections
import functools
import html
import json
import math
import numbers
import os
import re
import threading
import unicodedata
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from . import _native, examples
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
    "purge",
    "check_gradients",
    "grade",
    "examples",
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


# The command line's advice, said as Python says it: a value is given with
# `given={...}`, the formulas are `net.derive()`.
_PYTHON_ADVICE = [
    (re.compile(r"`--given '([^'=`]+)=\[\.\.\.\]'`"), r"`given={'\1': [...]}`"),
    (re.compile(r"`--given NAME=\[\.\.\.\]`"), "`given={'NAME': [...]}`"),
    (re.compile(r"`nnderive solve` computes with values left open"), "`net.derive()` shows the formulas without any numbers"),
    (re.compile(r"`nnderive derive` shows the formulas"), "`net.derive()` shows the formulas"),
    (re.compile(r"the formulas are shown by `nnderive derive`"), "the formulas are shown by `net.derive()`"),
]


def _in_python(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    for pattern, replacement in _PYTHON_ADVICE:
        text = pattern.sub(replacement, text)
    return text


def _native_call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except _native.NativeError as e:
        raise NNError(*(_in_python(a) for a in e.args)) from None


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


_GREEK = {"δ": "delta", "∂": "d", "ŷ": "yhat", "\u0302": "hat", "ᵀ": "T", "⁽": "(", "⁾": ")", "ᵏ": "k", "ₜ": "t", "ᵗ": "t"}


@functools.lru_cache(maxsize=4096)
def _ascii(key: str) -> str:
    """A plain ASCII spelling of a key: ``δ1`` is ``delta1``, ``∂L/∂H`` is
    ``dL/dH``, ``dL/dc₂`` is ``dL/dc2``, another Greek letter its name
    (``α`` is ``alpha``), an accented letter the letter."""
    out = []
    for ch in key:
        if ch.isascii():
            out.append(ch)
        elif ch in _GREEK:
            out.append(_GREEK[ch])
        elif unicodedata.digit(ch, None) is not None:
            out.append(str(unicodedata.digit(ch)))  # subscript and superscript digits
        else:
            name = unicodedata.name(ch, "")
            if name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")):
                word = name.split(" LETTER ", 1)[1].split()[0].lower()
                out.append(word if "SMALL" in name else word.capitalize())
            else:
                base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
                out.append(base or ch)
    return "".join(out)


def _aliases(keys: Any) -> Dict[str, str]:
    """Each key's ASCII spelling, when it differs and no other key (or
    spelling) takes it."""
    spellings: Dict[str, List[str]] = {}
    for k in keys:
        spellings.setdefault(_ascii(k), []).append(k)
    return {a: ks[0] for a, ks in spellings.items() if len(ks) == 1 and a != ks[0] and a not in keys}


# The aliases of each section of a kept skeleton (see `_skeleton`), by the
# section's identity; the section itself is held with them, so that its
# identity is not reused while the entry is here.
_SECTION_ALIASES: Dict[int, Tuple[Any, Dict[str, str]]] = {}


def _section_aliases(entries: Mapping[str, Any]) -> Dict[str, str]:
    """`_aliases` of a section's keys, computed once per kept skeleton."""
    kept = _SECTION_ALIASES.get(id(entries))
    if kept is not None and kept[0] is entries:
        return kept[1]
    aliases = _aliases(entries)
    if len(_SECTION_ALIASES) > 256:
        _SECTION_ALIASES.clear()
    _SECTION_ALIASES[id(entries)] = (entries, aliases)
    return aliases


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


class _Values:
    """The values of one solve: the NumPy arrays the native layer made, by
    the index that stands for each in the skeleton (``{"buffer": i}``), and
    their exact fractions, made when first asked for."""

    def __init__(self, solved: Any, arrays: List[np.ndarray]):
        self.solved = solved
        self.arrays = arrays

    def array(self, value: Any) -> np.ndarray:
        if isinstance(value, dict) and "buffer" in value:
            return self.arrays[value["buffer"]]
        return _array(value)

    def exact(self, obj: Mapping[str, Any]) -> Any:
        """The fractions of ``obj``'s value (a bare Fraction for a scalar),
        or ``None`` when it is not exact."""
        return self.exact_many([obj])[0]

    def exact_many(self, objs: List[Mapping[str, Any]]) -> List[Any]:
        """:meth:`exact` of each of ``objs``, asked of the native layer at once."""
        def index(obj: Mapping[str, Any]) -> Optional[int]:
            value = obj.get("value")
            # The skeleton is the f64 solution's: whether a value is exact is
            # known to the exact solution, which the native layer asks.
            if isinstance(value, dict) and "buffer" in value:
                return value["buffer"]
            return None

        wanted = [i for i in map(index, objs) if i is not None]
        found = dict(self.solved.exact(wanted)) if wanted else {}
        out = []
        for obj in objs:
            i = index(obj)
            if i is None:
                out.append(_fractions(obj.get("exact")) if obj.get("exact") is not True else None)
            elif i not in found:
                out.append(None)
            else:
                out.append(self._fractions(found[i], self.arrays[i].shape))
        return out

    @staticmethod
    def _fractions(strings: List[str], shape: Tuple[int, ...]) -> Any:
        if not shape:
            return _exact(strings[0])
        out = np.empty(len(strings), dtype=object)
        for k, text in enumerate(strings):
            out[k] = _exact(text)
        return out.reshape(shape)


class Section(_Named):
    """Named values of one part of a solution: ``name → numpy.ndarray``
    (float64), in file order. Alongside, keyed alike:

    - ``exact[name]``: the exact values as ``fractions.Fraction`` (an object
      array of the same shape, a bare Fraction for a scalar), or ``None``
      where the value went through a transcendental function; made the
      first time ``exact`` is read;
    - ``formula[name]`` and ``latex[name]``: the formula (Unicode text and
      LaTeX), and ``name_latex[name]``, the quantity's own name in LaTeX.

    Every key has a plain ASCII spelling too: ``deltas["delta1"]`` is
    ``deltas["δ1"]``, ``"dL/dc2"`` is ``"dL/dc₂"``.
    """

    def __init__(self, title: str, entries: Mapping[str, Mapping[str, Any]], values: Optional[_Values] = None):
        aliases = _section_aliases(entries)
        super().__init__(title, aliases)
        self._title = title
        self._entries = entries
        self._values = values
        self._with_values: List[Tuple[str, Mapping[str, Any]]] = []
        self._exact: Optional[_Named] = None
        self._formulas: Dict[str, _Named] = {}
        for key, obj in entries.items():
            if "value" in obj:
                self[key] = values.array(obj["value"]) if values else _array(obj["value"])
                self._with_values.append((key, obj))

    def _field(self, field: str) -> _Named:
        """The entries' ``field`` (``"formula"``, ``"latex"``,
        ``"name_latex"``) by name, gathered the first time it is read: a
        solve that only reads values never copies its formulas."""
        store = self._formulas.get(field)
        if store is None:
            store = _Named(f"{self._title} with a formula", self._aliases)
            for key, obj in self._entries.items():
                if field in obj:
                    store[key] = obj[field]
            self._formulas[field] = store
        return store

    @property
    def formula(self) -> _Named:
        """Each quantity's formula as Unicode text (see the class)."""
        return self._field("formula")

    @property
    def latex(self) -> _Named:
        """Each quantity's formula in LaTeX."""
        return self._field("latex")

    @property
    def name_latex(self) -> _Named:
        """Each quantity's own name in LaTeX."""
        return self._field("name_latex")

    @property
    def exact(self) -> _Named:
        """The exact values by name (see the class)."""
        if self._exact is None:
            exact = _Named(f"{self._title} (exact)", self._aliases)
            if self._values is not None:
                fractions = self._values.exact_many([obj for _, obj in self._with_values])
            else:
                fractions = [_fractions(obj.get("exact")) for _, obj in self._with_values]
            for (key, _), value in zip(self._with_values, fractions):
                exact[key] = value
            self._exact = exact
        return self._exact

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


# What Jupyter shows of a solution whole: at most this many entries in all
# its values, and a document of at most this many characters; past either,
# a summary (see `_summary_markdown`).
_DISPLAY_ENTRIES = 20_000
_DISPLAY_CHARS = 400_000
# In a summary: a value of more entries than this shows its corners only,
# this many entries from each end of each axis, as NumPy's print options do
# (`threshold`, `edgeitems`); and at most this many values in all.
_SUMMARY_THRESHOLD = 64
_SUMMARY_EDGE = 3
_SUMMARY_VALUES = 120
_SUMMARY_FORMULAS = 80


def _corner(a: np.ndarray, round: Optional[int]) -> str:
    """A value as NumPy prints it, a large one by its corners only."""
    precision = 4 if round is None else min(round, 8)
    return np.array2string(np.asarray(a), threshold=_SUMMARY_THRESHOLD, edgeitems=_SUMMARY_EDGE,
                           precision=precision, max_line_width=100, floatmode="maxprec")


def _described(a: np.ndarray) -> str:
    """A value's shape and size: ``shape (128, 784), 100 352 entries, ‖·‖₂ = 3.1416, max |·| = 0.99``."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return "scalar"
    finite = a[np.isfinite(a)]
    norm = float(np.sqrt(np.sum(finite * finite))) if finite.size else float("nan")
    largest = float(np.max(np.abs(finite))) if finite.size else float("nan")
    size = f"{a.size:,}".replace(",", " ")
    return f"shape {tuple(a.shape)}, {size} entries, ‖·‖₂ = {norm:.6g}, max |·| = {largest:.6g}"


def _summary_items(sol: "Solution") -> List[Tuple[str, str, np.ndarray]]:
    """``(section, name, value)`` for each value of a solution, in the order the documents show them."""
    items: List[Tuple[str, str, np.ndarray]] = []
    for title, section in (("Given", sol.given), ("Forward pass", sol.forward)):
        items += [(title, k, v) for k, v in section.items()]
    items.append(("Loss", sol.loss_name, np.float64(sol.loss)))
    for title, section in (("Error terms", sol.deltas), ("Gradients", sol.gradients), ("After training", sol.updated)):
        items += [(title, k, v) for k, v in section.items()]
    return items


def _summary_markdown(sol: "Solution") -> str:
    """A solution in Markdown whose size is bounded whatever its tensors':
    the formulas (at most ``_SUMMARY_FORMULAS``), then each value (at most
    ``_SUMMARY_VALUES``) with its shape and norms and, for a large one,
    its corners only."""
    out = [f"# Worked solution (summary): <code>{_inline(sol.net.name)}</code>\n",
           "Large values are shown by their corners, as NumPy prints them; "
           "`sol.markdown` is the whole worked solution with every entry, "
           "`sol.text` the same as text, and each value is an array (`sol.gradients[\"W1\"]`).\n"]
    rows = _formula_rows(sol.forward, sol._loss, sol.deltas, sol.gradients)
    if rows:
        out.append("## Formulas\n")
        out.append(_aligned(rows[:_SUMMARY_FORMULAS]) + "\n")
        if len(rows) > _SUMMARY_FORMULAS:
            out.append(f"… and {len(rows) - _SUMMARY_FORMULAS} more formulas (`sol.markdown` has them all).\n")
    items = _summary_items(sol)
    section = None
    for title, name, value in items[:_SUMMARY_VALUES]:
        if title != section:
            out.append(f"## {title}\n")
            section = title
        out.append(f"**{_inline(name)}**: {_described(value)}\n\n```text\n{_corner(value, sol.round)}\n```\n")
    if len(items) > _SUMMARY_VALUES:
        out.append(f"… and {len(items) - _SUMMARY_VALUES} more values (`sol.markdown` has them all).\n")
    if sol.history.size > 1:
        out.append(f"## Training\n\nLoss by step: {_corner(sol.history, sol.round)}\n")
    return "\n".join(out)


def _summary_text(sol: "Solution") -> str:
    """``repr`` of a large solution: each value's shape, norms and corners."""
    out = [f"Worked solution of {_native.visible_line(_no_surrogates(sol.net.name))} (summary; sol.text has every entry)"]
    items = _summary_items(sol)
    for _, name, value in items[:_SUMMARY_VALUES]:
        out.append(f"{name}: {_described(value)}")
        out.append("  " + _corner(value, sol.round).replace("\n", "\n  "))
    if len(items) > _SUMMARY_VALUES:
        out.append(f"… and {len(items) - _SUMMARY_VALUES} more values")
    return "\n".join(out)


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
    """The finite-difference check of every derived gradient (``nnderive
    gradcheck``): it checks nnderive's own derivation, not yours. To check
    gradients you computed, use :meth:`Solution.compare` or
    :func:`check_gradients`.

    ``repr`` is the command line's report followed by that reminder.
    """

    NOTE = ("This checks nnderive's own derivation against finite differences. "
            "To check your gradients, use sol.compare({...}) or nnderive.check_gradients(net, {...}).")

    def __init__(self, worst: float, text: str, tolerance: float):
        self.worst = worst
        self.text = text
        self.tolerance = tolerance
        self.ok = worst <= tolerance

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.text.rstrip("\n") + "\n\n" + self.NOTE


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


@functools.lru_cache(maxsize=16)
def _skeleton(text: str) -> Any:
    """A solution's skeleton parsed, kept for the next solve of the same
    network (the same names and formulas; its values are the arrays). Read
    only: every solution of that network shares it."""
    return json.loads(text)


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

    Solving computes the values only. Each document is made the first time
    it is read, then kept: ``text``, ``markdown`` (the whole worked
    solution, every entry), ``latex`` (a standalone document for pdflatex)
    and ``json`` (``--format json``, parsed), each exactly as the command
    line writes it; ``round`` only shapes the first three. In Jupyter a
    solution shows as Markdown rendered by MathJax: the whole document for
    a small network, and for a large one a summary (each value's shape,
    norms and corner entries, as NumPy prints a large array), with
    ``sol.markdown`` one step away.
    """

    def __init__(self, net: "Net", solved: Any, skeleton: str, arrays: List[np.ndarray], round: Optional[int]):
        self.net = net
        self.round = round
        self._native = solved
        self._documents: Dict[str, Any] = {}
        values = _Values(solved, arrays)
        self._values = values
        # The sections, the history and the formulas are made when first
        # read (a solve whose caller reads one gradient pays for that one
        # section), from the network's skeleton, parsed once per network.
        data = _skeleton(skeleton)
        self._data = data
        loss = data["loss"]
        self.loss_name: str = loss["name"]
        self.loss_formula: Optional[str] = loss.get("formula")
        self.loss_latex: Optional[str] = loss.get("latex")
        self._loss = loss
        self.loss = float(values.array(loss["value"]))
        self._training = data.get("training")
        self._history = data.get("history", [])

    @functools.cached_property
    def given(self) -> Section:
        """The given values (inputs, targets, parameters before training)."""
        return Section("given values", self._data["given"], self._values)

    @functools.cached_property
    def forward(self) -> Section:
        """The forward pass's values."""
        return Section("forward quantities", self._data["forward"], self._values)

    @functools.cached_property
    def deltas(self) -> Section:
        """The error terms (``"δ1"`` or ``"delta1"``)."""
        return Section("error terms", self._data["deltas"], self._values)

    @functools.cached_property
    def gradients(self) -> Section:
        """The gradient of the loss with respect to each parameter."""
        return Section("gradients", self._data["gradients"], self._values)

    @functools.cached_property
    def updated(self) -> Section:
        """The parameters after training."""
        return Section("updated parameters", self._data["updated"], self._values)

    @functools.cached_property
    def history(self) -> np.ndarray:
        """The loss before each training step and after the last."""
        return np.array([float(self._values.array(h["value"])) for h in self._history], dtype=np.float64)

    @property
    def notes(self) -> List[str]:
        """The notes of the worked solution, as ``--format json`` writes them
        (made from the exact solution the first time they are read)."""
        return self._document("notes", lambda: list(self._native.notes()))

    @property
    def training(self) -> Optional[Dict[str, Any]]:
        """The training settings: ``optimizer``, ``lr`` (``lr_exact`` its
        Fraction) and ``steps``; ``None`` when the file does not train."""
        def make() -> Optional[Dict[str, Any]]:
            training = self._training
            if not training:
                return None
            return {
                "optimizer": training["optimizer"],
                "lr": float(self._values.array(training["lr"]["value"])),
                "lr_exact": self._values.exact(training["lr"]),
                "steps": int(training["steps"]),
            }
        return self._document("training", make)

    def _document(self, kind: str, make: Any) -> Any:
        if kind not in self._documents:
            self._documents[kind] = make()
        return self._documents[kind]

    @property
    def text(self) -> str:
        """The worked solution as ``nnderive solve [--round N]`` prints it."""
        return self._document("text", lambda: self._native.text(self.round))

    @property
    def markdown(self) -> str:
        """The whole worked solution in Markdown (``--format markdown``), every entry."""
        return self._document("markdown", lambda: self._native.markdown(self.round))

    @property
    def latex(self) -> str:
        """A standalone LaTeX document (``--format latex``)."""
        return self._document("latex", lambda: self._native.latex(self.round))

    @property
    def json(self) -> Dict[str, Any]:
        """The solution as ``nnderive solve --format json`` writes it, parsed."""
        return self._document("json", lambda: json.loads(self._native.json()))

    @property
    def quantities(self) -> List[Mapping[str, Any]]:
        """Every named quantity of the solution (forward values, the loss,
        error terms, gradients, updated parameters): ``name``, ``label``,
        ``kind``, ``aliases``, ``shape``, ``value`` and ``depends``."""
        return self._document("quantities", lambda: list(json.loads(self._native.quantities())))

    @property
    def loss_exact(self) -> Any:
        """The loss as a Fraction, or ``None`` when it is not exact."""
        return self._document("loss_exact", lambda: self._values.exact(self._loss))

    @property
    def history_exact(self) -> List[Any]:
        """``history`` as Fractions (``None`` where not exact)."""
        return self._document("history_exact", lambda: self._values.exact_many(self._history))

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
        if self._entries() > _DISPLAY_ENTRIES:
            return _summary_text(self)
        return self.text.rstrip("\n")

    def _entries(self) -> int:
        return sum(int(a.size) for a in self._values.arrays)

    def _repr_markdown_(self) -> str:
        # The whole document when it is small; otherwise a summary whose
        # size does not grow with the tensors' (a 784-128-10 network's
        # whole document is megabytes of Markdown, which a browser does not
        # typeset in minutes).
        if self._entries() <= _DISPLAY_ENTRIES:
            markdown = self.markdown
            if len(markdown) <= _DISPLAY_CHARS:
                return markdown
        return _summary_markdown(self)

    def _repr_latex_(self) -> str:
        return _aligned(_formula_rows(self.forward, self._loss, self.deltas, self.gradients))


# Networks checked before, as Python's `re` keeps compiled patterns: a
# `parse` (or a solve with values given) of the same name, text and values
# reuses the checked network, with its derivation, compiled evaluation and
# skeleton once a solve made them (all of which are fixed by the name, the
# text and the values). Keyed by the whole name, text and given values (as
# the exact fractions sent to the native layer), never by a hash alone;
# only networks that checked without error are kept, so every error is
# raised again as it was. At most `_COMPILED_NETWORKS` networks and
# `_COMPILED_CHARACTERS` characters of text and values in all, the least
# recently used dropped first. `purge()` empties it.
_COMPILED: "collections.OrderedDict[Tuple[Any, ...], Tuple[Dict[str, Dict[str, Any]], Any, int]]" = collections.OrderedDict()
_COMPILED_NETWORKS = 4
_COMPILED_CHARACTERS = 1 << 25
_COMPILED_LOCK = threading.Lock()


def _compiled(name: str, text: str, given: List[Any]) -> Tuple[Dict[str, Dict[str, Any]], Any]:
    """The tensors (name → role, shape, has_value) and the checked network
    of ``text`` with ``given`` values (as :func:`_given` made them), checked
    now or kept from before (see `_COMPILED`). The tensors are shared: copy
    them before handing them out."""
    if any(fault is not None for *_, fault in given):
        key = None  # an error, raised by the check below and never kept
    else:
        key = (name, text, tuple((n, tuple(dims), tuple(entries)) for n, dims, entries, _ in given))
        with _COMPILED_LOCK:
            kept = _COMPILED.get(key)
            if kept is not None:
                _COMPILED.move_to_end(key)
                return kept[0], kept[1]
    listed, checked = _native_call(_native.check, name, text, given)
    tensors = {name: {"role": role, "shape": tuple(shape), "has_value": has} for name, role, shape, has in listed}
    if key is not None:
        size = len(name) + len(text) + sum(len(e) for _, _, entries in key[2] for e in entries)
        if size <= _COMPILED_CHARACTERS:
            with _COMPILED_LOCK:
                _COMPILED[key] = (tensors, checked, size)
                total = sum(kept[2] for kept in _COMPILED.values())
                while len(_COMPILED) > _COMPILED_NETWORKS or total > _COMPILED_CHARACTERS:
                    total -= _COMPILED.popitem(last=False)[1][2]
    return tensors, checked


def purge() -> None:
    """Forgets the networks checked before (kept so that parsing the same
    text again costs nothing): the next :func:`parse` of any text checks
    it anew. As ``re.purge``."""
    with _COMPILED_LOCK:
        _COMPILED.clear()


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
        tensors, self._checked = _compiled(self.name, self.text, _given(self.values))
        # The values the checked network holds: solving with just these
        # reuses it rather than reading the file again.
        self._checked_values = dict(self.values)
        # The Net's own copy: a caller may change it.
        self.tensors: Dict[str, Dict[str, Any]] = {name: dict(t) for name, t in tensors.items()}

    def _unchanged(self) -> bool:
        """True while ``values`` holds the very values the network was checked with."""
        now, then = self.values, self._checked_values
        return now.keys() == then.keys() and all(now[k] is then[k] for k in now)

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
        Only the values are computed here; each document is made when it is
        first read. Interrupting the kernel stops it (``KeyboardInterrupt``).
        """
        if round is not None and (isinstance(round, bool) or not isinstance(round, int) or not 0 <= round <= 30):
            raise _argument_error(f"round must be a whole number from 0 to 30, not {_shown(round)}")
        if not given and self._unchanged():
            checked = self._checked
        else:
            # Values changed since, or given for this call: the network
            # with them is checked (or found among those checked before).
            _, checked = _compiled(self.name, self.text, self._values(given))
        solved, skeleton, arrays = _native_call(_native.solve_checked, checked)
        return Solution(self, solved, skeleton, arrays, round)

    def graph(self, grad: bool = False, given: Optional[Mapping[str, Any]] = None) -> Graph:
        """The computational graph; with ``grad``, the backward flow and
        each gradient beside its node. Needs no values; ``.source`` is the
        DOT text, and Jupyter shows it drawn by Graphviz."""
        return Graph(_native_call(_native.graph, self.name, self.text, self._values(given), bool(grad)))

    def gradcheck(self, tolerance: float = 1e-6, given: Optional[Mapping[str, Any]] = None) -> GradCheck:
        """Checks nnderive's own derived gradients against central finite
        differences (to check yours, use :meth:`Solution.compare` or
        :func:`check_gradients`); ``tolerance`` is the largest acceptable
        relative error, a positive, finite number (as the command line's
        ``--tolerance``). Interrupting the kernel stops it
        (``KeyboardInterrupt``)."""
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
