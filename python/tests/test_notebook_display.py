"""What Jupyter does with a solution, in a real kernel (nbclient): showing
a 784-128-10 network's solution is bounded (every representation Jupyter
asks for is small), and the shipped notebook runs from another folder.
How long each takes is measured by python/bench/display.py, not here: a
time depends on the machine's load. Skipped only where nbclient or
ipykernel is not installed, and never in CI (CI set)."""

import pytest

from conftest import ROOT, notebook_modules
from test_display import mlp


def run(nb, folder):
    nbclient, _ = notebook_modules()
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", record_timing=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, errors


@pytest.mark.parametrize("round_", [4, None])
def test_a_784_128_10_solution_shows_small(tmp_path, round_):
    _, nbformat = notebook_modules()
    (tmp_path / "mlp.nn").write_text(mlp(784, 128, 10), encoding="utf-8")
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_code_cell("import nnderive\nnet = nnderive.load('mlp.nn')"),
            v4.new_code_cell(f"sol = net.solve(round={round_})"),
            # Showing it: Jupyter asks for every representation it has.
            v4.new_code_cell("sol"),
        ]
    )
    run(nb, tmp_path)
    shown = nb.cells[2]
    [output] = shown.outputs
    assert output.output_type == "execute_result"
    sizes = {kind: len(data) for kind, data in output.data.items()}
    assert {"text/plain", "text/markdown"} <= sizes.keys(), sizes
    assert all(size < 60_000 for size in sizes.values()), sizes
    assert output.data["text/markdown"].startswith("# Worked solution (summary)")


def test_the_shipped_notebook_runs_from_another_folder(tmp_path):
    _, nbformat = notebook_modules()
    nb = nbformat.read(ROOT / "python" / "examples" / "assignment4.ipynb", as_version=4)
    # `run` fails on any cell's error; the kernel works in tmp_path.
    run(nb, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code)
