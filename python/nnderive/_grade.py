"""The result of :func:`nnderive.grade`: a student's numbers graded part by
part, as ``nnderive grade`` reports them, in a form an autograder cell
(nbgrader, Otter) can use: ``score`` and ``max`` are numbers, ``parts`` a
list, and the object shows as the text report (an HTML table in Jupyter)."""

from __future__ import annotations

import html
from typing import Any, Dict, List, Mapping, Optional, Tuple


class GradePart:
    """One part: ``name`` (ASCII, as in the answers: ``delta1``), ``label``
    (as the solution prints it: ``δ1``), ``status`` (``"correct"``,
    ``"consistent"``, ``"wrong"``, ``"missing"`` or ``"unreadable"``),
    ``score`` and ``max`` (points), ``message`` (what to tell the student),
    ``first_wrong`` (``(index, numpy_index, yours, expected)`` of the first
    entry outside the tolerance, 1-based and 0-based, or ``None``) and
    ``mistake`` (``"transpose"``, ``"sign"``, … when one is recognised)."""

    def __init__(self, data: Mapping[str, Any]):
        self.name: str = data["name"]
        self.label: str = data["label"]
        self.status: str = data["status"]
        self.score: float = float(data["score"])
        self.max: float = float(data["max"])
        self.message: str = data["message"]
        wrong = data.get("first_wrong")
        self.first_wrong: Optional[Tuple[Tuple[int, ...], Tuple[int, ...], float, str]] = (
            (tuple(wrong["index"]), tuple(wrong["numpy_index"]), float(wrong["yours"]), wrong["expected"]) if wrong else None
        )
        self.mistake: Optional[str] = data.get("mistake")

    @property
    def ok(self) -> bool:
        """Whether the part earned its points (correct or consistent)."""
        return self.status in ("correct", "consistent")

    def __repr__(self) -> str:
        tail = f": {self.message}" if self.message else ""
        return f"<{self.name} {self.status} {self.score:g}/{self.max:g}{tail}>"


class GradeResult:
    """A graded submission: ``score`` and ``max`` (floats), ``parts`` (a
    list of :class:`GradePart`, also by name: ``result["delta1"]``),
    ``problems`` (what could not be read, about the answers as a whole),
    ``round`` and ``tolerance`` (half a unit of the ``round``-th decimal),
    ``json`` (the report as ``nnderive grade --format json`` writes it) and
    ``text`` (as the terminal shows it, which is also its ``repr``)."""

    def __init__(self, data: Mapping[str, Any], text: str):
        self.json = data
        self.text = text
        self.parts: List[GradePart] = [GradePart(p) for p in data["parts"]]
        self.score: float = float(data["score"])
        self.max: float = float(data["max"])
        self.problems: List[str] = list(data["problems"])
        self.round: int = int(data["round"])
        self.tolerance: float = float(data["tolerance"])
        self._by_name: Dict[str, GradePart] = {p.name: p for p in self.parts}

    @property
    def ok(self) -> bool:
        """Full marks."""
        return self.score == self.max

    def __getitem__(self, name: str) -> GradePart:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{name!r}: the parts are {', '.join(self._by_name)}") from None

    def __iter__(self):
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    def __repr__(self) -> str:
        return self.text.rstrip("\n")

    def _repr_html_(self) -> str:
        colour = {"correct": "#1a7f37", "consistent": "#1a7f37"}
        rows = "".join(
            f"<tr><td><code>{html.escape(p.name)}</code></td>"
            f"<td style='color:{colour.get(p.status, '#cf222e')};font-weight:bold'>{p.status}</td>"
            f"<td>{p.score:g}/{p.max:g}</td><td style='text-align:left'>{html.escape(p.message)}</td></tr>"
            for p in self.parts
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.problems)
        return (
            f"<p><b>Score {self.score:g} of {self.max:g}</b> (each entry within ±{self.tolerance:g})</p>"
            f"<table><thead><tr><th>part</th><th>status</th><th>points</th><th style='text-align:left'>message</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>" + (f"<ul>{notes}</ul>" if notes else "")
        )
