#!/usr/bin/env python3
"""Showing a solution in Jupyter: how long a real kernel takes to display
a 784-128-10 network's solution, and to run the shipped notebook.

    python python/bench/display.py

Needs the package, nbclient, nbformat and ipykernel installed (the CI's
virtual environment has them). Each figure is the kernel's own time for a
cell, from its start to its reply (nbclient's `record_timing`), the
median of 3 runs; the kernel's start is not counted. The sizes of what
Jupyter is handed are checked in python/tests/test_notebook_display.py;
the times are measured here, not in a test, because they depend on the
machine's load.
"""

import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbclient
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook import dense  # noqa: E402  (the benchmark's network writer)

ROOT = Path(__file__).resolve().parents[2]
RUNS = 3


def seconds(cell):
    """The kernel's time for a cell: from its start to its reply."""
    timing = cell.metadata["execution"]
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(timing["shell.execute_reply"]) - parse(timing["iopub.execute_input"])).total_seconds()


def run(nb, folder):
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", record_timing=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def show_mlp(folder, round_):
    """The seconds and the characters of showing a 784-128-10 solution."""
    _, text, _ = dense([784, 128, 10])
    (folder / "mlp.nn").write_text(text, encoding="utf-8")
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("import nnderive\nnet = nnderive.load('mlp.nn')"),
        v4.new_code_cell(f"sol = net.solve(round={round_})"),
        v4.new_code_cell("sol"),
    ])
    shown = run(nb, folder).cells[2]
    size = sum(len(data) for output in shown.outputs for data in output.get("data", {}).values())
    return seconds(shown), size


def shipped(folder):
    """The slowest cell and the sum of every cell of the shipped notebook."""
    nb = run(nbformat.read(ROOT / "python" / "examples" / "assignment4.ipynb", as_version=4), folder)
    times = [seconds(c) for c in nb.cells if c.cell_type == "code"]
    return max(times), sum(times)


def main():
    print(f"medians of {RUNS} runs, seconds of the kernel's time per cell (load average {os.getloadavg()[0]:.1f})\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for round_ in (4, None):
            runs = [show_mlp(folder, round_) for _ in range(RUNS)]
            shown = statistics.median(t for t, _ in runs)
            print(f"show a 784-128-10 solution, round={round_!s:4}  {shown:7.3f} s  ({runs[0][1]} characters)")
        runs = [shipped(folder) for _ in range(RUNS)]
        slowest, total = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"python/examples/assignment4.ipynb              slowest cell {slowest:.3f} s, every cell {total:.3f} s")


if __name__ == "__main__":
    main()
