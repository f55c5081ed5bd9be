"""The example networks of nnderive, shipped inside the package, so that a
notebook finds them wherever it runs::

    import nnderive
    nnderive.examples.names()                 # ['assignment4', 'assignment4_adam', ...]
    net = nnderive.examples.load("assignment4")
    nnderive.examples.path("assignment4")     # the .nn file, to read or copy

They are the files of the repository's grammar/examples, copied here (a
test keeps the two alike).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional

_HERE = Path(__file__).resolve().parent


def names() -> List[str]:
    """The examples' names, sorted: each is a file ``NAME.nn``."""
    return sorted(p.stem for p in _HERE.glob("*.nn"))


def path(name: str) -> Path:
    """The ``.nn`` file of the example ``name`` (``"assignment4"``, or
    ``"assignment4.nn"``); an unknown name raises ``ValueError`` listing
    the examples."""
    if not isinstance(name, str):
        raise TypeError(f"an example's name is a str, not {type(name).__name__}")
    stem = name[:-3] if name.endswith(".nn") else name
    if stem not in names():
        raise ValueError(f"no example named {name!r}; the examples are {', '.join(names())}")
    return _HERE / f"{stem}.nn"


def text(name: str) -> str:
    """The text of the example ``name``."""
    return path(name).read_text(encoding="utf-8")


def load(name: str, values: Optional[Mapping[str, Any]] = None) -> Any:
    """The example ``name`` as a network, named by its file's name alone
    (``assignment4.nn``), as the command line names it run in the folder."""
    from .. import parse

    file = path(name)
    return parse(file.read_bytes(), name=file.name, values=values)
