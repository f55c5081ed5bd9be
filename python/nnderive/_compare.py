"""Comparing a student's gradients with the derived ones, parameter by
parameter, with messages that say what to fix."""

from __future__ import annotations

import difflib
import html
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

_LAYOUTS = ("column", "row")


def _shape(s: Tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, s)) + "]" if s else "a scalar"


class ParamComparison:
    """One quantity (a parameter's gradient, or any other named quantity
    of the solution): ``status`` is ``"ok"``, ``"differs"``, ``"shape"``,
    ``"missing"``, ``"extra"`` or ``"invalid"``; ``max_rel_error`` the
    largest relative error ``|yours − derived| / max(|yours|, |derived|)``
    over the entries (``None`` when the values could not be compared);
    ``differing`` how many entries fail ``|yours − derived| ≤ atol +
    rtol·|derived|``; ``worst`` up to five ``(index, yours, derived,
    relative error)`` tuples of differing entries, worst first."""

    def __init__(self, name: str, status: str, message: str = "", *, expected_shape=None, given_shape=None,
                 max_rel_error: Optional[float] = None, differing: int = 0, total: int = 0,
                 worst: Optional[List[Tuple[Tuple[int, ...], float, float, float]]] = None):
        self.name = name
        self.status = status
        self.message = message
        self.expected_shape = expected_shape
        self.given_shape = given_shape
        self.max_rel_error = max_rel_error
        self.differing = differing
        self.total = total
        self.worst = worst or []
        #: Whether it is a parameter's gradient (named by the parameter).
        self.gradient = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def lines(self) -> List[str]:
        head = f"{self.name:<6} {self.status.upper():<8}"
        if self.status in ("ok", "differs"):
            head += f" max relative error {self.max_rel_error:.3g}"
            if self.differing:
                head += f"; {self.differing} of {self.total} entries differ"
        else:
            head += f" {self.message}"
        out = [head]
        for index, yours, derived, rel in self.worst:
            at = _entry(self.name, index)
            out.append(f"       {at:<10} yours {yours: .6g}   derived {derived: .6g}   (relative error {rel:.3g})")
        if self.status == "differs" and self.message:
            out.append(f"       {self.message}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


def _entry(name: str, index: Tuple[int, ...]) -> str:
    """An entry as the formulas count it, from 1, with the NumPy index
    beside it: ``W1[1,2] (NumPy W1[0,1])``; a scalar is its name."""
    if not index:
        return f"{name} (scalar)"
    one = ",".join(str(i + 1) for i in index)
    zero = ",".join(map(str, index))
    return f"{name}[{one}] (NumPy {name}[{zero}])"


class Comparison:
    """The result of :meth:`nnderive.Solution.compare`: ``ok`` when every
    parameter is there, shaped as derived and equal within the tolerance;
    ``params`` maps each name to a :class:`ParamComparison`; ``bool(result)``
    is ``ok``."""

    def __init__(self, params: Dict[str, ParamComparison], rtol: float, atol: float, layout: str,
                 aliases: Optional[Dict[str, str]] = None):
        self.params = params
        self.rtol = rtol
        self.atol = atol
        self.layout = layout
        self._aliases = aliases or {}

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.params.values())

    def __bool__(self) -> bool:
        return self.ok

    def __getitem__(self, name: str) -> ParamComparison:
        if name in self.params:
            return self.params[name]
        return self.params[self._aliases.get(name, name)]

    @property
    def max_rel_error(self) -> Optional[float]:
        errors = [p.max_rel_error for p in self.params.values() if p.max_rel_error is not None]
        return max(errors) if errors else None

    def summary(self) -> str:
        bad = [p.name for p in self.params.values() if not p.ok]
        settings = f"rtol={self.rtol:g}, atol={self.atol:g}, {self.layout} layout"
        if not bad:
            what = "gradients" if all(p.gradient for p in self.params.values()) else "quantities"
            return f"All {len(self.params)} {what} match ({settings})."
        return f"{len(bad)} of {len(self.params)} do not match: {', '.join(bad)} ({settings})."

    def __repr__(self) -> str:
        lines = [self.summary()]
        for p in self.params.values():
            lines += ["  " + line for line in p.lines()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"ok": "#1a7f37"}
        rows = []
        for p in self.params.values():
            detail = ""
            if p.status in ("ok", "differs"):
                detail = f"max relative error {p.max_rel_error:.3g}"
                if p.differing:
                    detail += f"; {p.differing} of {p.total} entries differ"
            else:
                detail = p.message
            if p.worst:
                items = "".join(
                    f"<li><code>{html.escape(_entry(p.name, i))}</code>: yours {y:.6g}, "
                    f"derived {d:.6g} (relative error {r:.3g})</li>"
                    for i, y, d, r in p.worst
                )
                detail = f"{html.escape(detail)}<ul>{items}</ul>"
                if p.message:
                    detail += html.escape(p.message)
            else:
                detail = html.escape(detail)
            c = colour.get(p.status, "#cf222e")
            rows.append(
                f"<tr><td><code>{html.escape(p.name)}</code></td>"
                f"<td style='color:{c};font-weight:bold'>{p.status.upper()}</td><td style='text-align:left'>{detail}</td></tr>"
            )
        return (
            f"<p><b>{html.escape(self.summary())}</b></p><table><thead><tr><th>parameter</th><th>result</th>"
            f"<th style='text-align:left'>details</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )


def _same_column(expected: Tuple[int, ...], given: Tuple[int, ...]) -> bool:
    """``[n]`` and ``[n, 1]`` are the same column."""
    return (len(expected) == 1 and given == (expected[0], 1)) or (len(given) == 1 and expected == (given[0], 1))


def _is_row_of(expected: Tuple[int, ...], given: Tuple[int, ...]) -> bool:
    """``given`` is the row-layout (transposed) shape of ``expected``."""
    if len(expected) == 2 and len(given) == 2:
        return given == expected[::-1]
    if len(expected) == 1:
        return given == (1, expected[0])
    return False


def _compare_one(name: str, derived: np.ndarray, yours_raw: Any, rtol: float, atol: float, layout: str) -> ParamComparison:
    try:
        yours = np.array(yours_raw, dtype=np.float64)
    except (TypeError, ValueError) as e:
        return ParamComparison(name, "invalid", f"cannot be read as an array of numbers ({e})")
    expected_shape, given_shape = tuple(derived.shape), tuple(yours.shape)
    shapes = {"expected_shape": expected_shape, "given_shape": given_shape}
    if layout == "row" and yours.ndim == 2:
        yours = yours.T
    elif layout == "row" and yours.ndim == 1 and derived.ndim == 2:
        yours = yours.reshape(1, -1).T
    shape = tuple(yours.shape)
    if shape != expected_shape:
        if _same_column(expected_shape, shape):
            yours = yours.reshape(expected_shape)
        elif layout == "column" and _is_row_of(expected_shape, shape):
            return ParamComparison(
                name,
                "shape",
                f"expected {_shape(expected_shape)} (column layout, as in the file: W @ x with x a column); "
                f"you gave {_shape(given_shape)}, its transpose — did you mean .T? (or compare with layout='row')",
                **shapes,
            )
        else:
            hint = ""
            if layout == "row" and tuple(np.array(yours_raw, dtype=np.float64).shape) == expected_shape:
                hint = " (with layout='row' your matrices are transposed first; this one already has the derived shape: use layout='column')"
            return ParamComparison(
                name, "shape", f"expected {_shape(expected_shape)}, you gave {_shape(given_shape)}{hint}", **shapes
            )
    diff = np.abs(yours - derived)
    scale = np.maximum(np.abs(yours), np.abs(derived))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    rel = np.where(np.isnan(yours) | np.isnan(derived), np.inf, rel)
    bad = ~(diff <= atol + rtol * np.abs(derived))
    order = np.argsort(-rel.ravel(), kind="stable")
    worst = []
    for flat in order:
        index = np.unravel_index(int(flat), derived.shape) if derived.ndim else ()
        if not bad[index]:
            continue
        worst.append((tuple(int(i) for i in index), float(yours[index]), float(derived[index]), float(rel[index])))
        if len(worst) == 5:
            break
    differing = int(np.count_nonzero(bad))
    message = ""
    if differing and derived.ndim == 2 and derived.shape[0] == derived.shape[1] and np.allclose(yours.T, derived, rtol=rtol, atol=atol):
        message = "its transpose matches: did you mean .T?"
    elif differing and np.allclose(-yours, derived, rtol=rtol, atol=atol):
        message = "its negative matches: a sign error (the gradient points uphill; the update subtracts it)"
    return ParamComparison(
        name,
        "ok" if differing == 0 else "differs",
        message,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        differing=differing,
        total=int(derived.size),
        worst=worst,
        **shapes,
    )


def compare_gradients(derived: Mapping[str, np.ndarray], yours: Mapping[str, Any], *, rtol: float = 1e-5,
                      atol: float = 1e-8, layout: str = "column") -> Comparison:
    """Compares ``yours`` (name → array or nested list; ``"dW1"`` also names
    ``W1``) with the ``derived`` gradients."""
    table = [
        {"name": f"d{name}", "label": name, "kind": "gradient", "aliases": [name], "value": value}
        for name, value in derived.items()
    ]
    return compare_quantities(table, yours, rtol=rtol, atol=atol, layout=layout)


def compare_quantities(table: List[Mapping[str, Any]], yours: Mapping[str, Any], *, rtol: float, atol: float,
                       layout: str = "column") -> Comparison:
    """Compares ``yours`` with the named quantities of a solution.

    ``table`` is the solution's list of quantities (``name``, ``label``,
    ``kind``, ``aliases``, ``value``), as the native ``solve`` gives it. Any
    name or alias of a quantity is accepted (``delta1`` or ``δ1``, ``dW1`` or
    ``W1`` for a gradient, ``W1_new``); a gradient's result is keyed by its
    parameter (``result["W1"]``), any other quantity's by its name. Every
    gradient is expected (missing ones are reported); other quantities are
    compared when given.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'column' (as in the file) or 'row' (transposed), not {layout!r}")
    lookup: Dict[str, int] = {}
    for i, q in enumerate(table):
        lookup.setdefault(q["name"], i)
    counts: Dict[str, int] = {}
    for q in table:
        for a in set(q.get("aliases", [])):
            counts[a] = counts.get(a, 0) + 1
    for i, q in enumerate(table):
        for a in q.get("aliases", []):
            if counts.get(a) == 1:
                lookup.setdefault(a, i)

    key = _param_of
    matched: Dict[int, Any] = {}
    extra: Dict[str, Any] = {}
    for name, value in yours.items():
        i = lookup.get(name)
        if i is None or i in matched:
            extra[name] = value
        else:
            matched[i] = value
    params: Dict[str, ParamComparison] = {}
    for i, q in enumerate(table):
        name = key(q)
        if i in matched:
            params[name] = _compare_one(name, np.asarray(q["value"], dtype=np.float64), matched[i], rtol, atol, layout)
        elif q["kind"] == "gradient":
            params[name] = ParamComparison(name, "missing", f"no gradient given for {name}")
        else:
            continue
        params[name].gradient = q["kind"] == "gradient"
    names = list(lookup.keys())
    for name in extra:
        if name in lookup:
            params[name] = ParamComparison(name, "extra", f"{table[lookup[name]]['name']} is given twice: this one is not compared")
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]}?)" if close else f" (the quantities are {', '.join(q['name'] for q in table)})"
        params[name] = ParamComparison(name, "extra", f"not a quantity of this network{hint}")
    aliases = {a: key(table[i]) for a, i in lookup.items()}
    return Comparison(params, rtol, atol, layout, aliases=aliases)


def _param_of(q: Mapping[str, Any]) -> str:
    """A gradient's parameter (``W1`` for ``dW1``), or the quantity's own name."""
    if q["kind"] == "gradient":
        plain = [a for a in q.get("aliases", []) if a.isidentifier() and "d" + a == q["name"]]
        if plain:
            return plain[0]
    return q["name"]
