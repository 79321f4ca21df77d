"""The analyst notebooks run top to bottom without an error, and their committed outputs are not stale.

Each notebook is executed in a fresh Jupyter kernel (nbclient) in ``notebooks/``; any failing cell fails
the test with the cell and the error. Then the normalised outputs of every code cell (text with temporary
paths masked, a figure as the fact that there is one; cells tagged ``nondeterministic`` by their kinds of
output) are compared with the committed ones: a difference means the notebook was not re-executed after a
change to it or to the library (refresh with ``python notebooks/_execute.py``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"

nbformat = pytest.importorskip("nbformat", reason="the [test] extra brings nbformat, nbclient and ipykernel")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def _runner():
    spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOK_DIR / "_execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _runner()
#: seconds a notebook may take on a loaded 2-core CI machine (each runs in under a minute when the machine is idle)
BUDGET_S = 240


def test_there_are_four_notebooks():
    assert RUNNER.NOTEBOOKS == ["01_design_flood.ipynb", "02_rating_and_routing.ipynb", "03_smart_stones.ipynb",
                                "04_preplan_audit.ipynb"]


@pytest.mark.parametrize("name", RUNNER.NOTEBOOKS)
def test_notebook_runs_and_its_outputs_are_fresh(name, monkeypatch):
    # the kernel imports this checkout's floodtwin, whether or not it is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    path = NOTEBOOK_DIR / name
    committed = nbformat.read(path, as_version=4)
    assert any(c.get("outputs") for c in committed.cells if c.cell_type == "code"), \
        f"{name}: committed without outputs (run python notebooks/_execute.py {name})"
    t0 = time.perf_counter()
    executed = RUNNER.execute(path)  # raises CellExecutionError naming the cell on any error
    took = time.perf_counter() - t0
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    stale = RUNNER.differences(committed, executed)
    assert not stale, f"{name}: committed outputs are stale (python notebooks/_execute.py {name}):\n" + "\n".join(stale)
    assert took < BUDGET_S, f"{name} took {took:.0f} s (budget {BUDGET_S} s)"


@pytest.mark.parametrize("name", RUNNER.NOTEBOOKS)
def test_notebook_figures_have_titles_and_modest_size(name):
    """Every figure cell sets a title and axis labels; a notebook stays under 600 kB with its PNGs."""
    path = NOTEBOOK_DIR / name
    nb = nbformat.read(path, as_version=4)
    helpers: dict[str, str] = {}  # a plotting function defined in an earlier cell: what it draws counts too
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for name in re.findall(r"^def (\w+)\(", cell.source, re.M):
            helpers[name] = cell.source
        figures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if figures:
            src = cell.source + "".join(body for name, body in helpers.items() if f"{name}(" in cell.source)
            assert "set_title" in src or "suptitle" in src, f"{name} cell {k}: a figure without a title"
            assert "set_xlabel" in src and "set_ylabel" in src, f"{name} cell {k}: a figure without axis labels (units)"
    assert path.stat().st_size < 600_000, f"{name}: {path.stat().st_size:,} bytes"


def test_the_staleness_check_catches_a_changed_output():
    """The check itself can fail: a committed notebook whose printed number was edited is reported stale."""
    path = NOTEBOOK_DIR / "04_preplan_audit.ipynb"
    committed = nbformat.read(path, as_version=4)
    edited = nbformat.read(path, as_version=4)
    cell = next(c for c in edited.cells if c.cell_type == "code" and any(o.get("output_type") == "stream"
                                                                        for o in c.get("outputs", [])))
    out = next(o for o in cell.outputs if o.get("output_type") == "stream")
    out["text"] = out["text"].replace("310", "311") if "310" in out["text"] else out["text"] + "x"
    assert RUNNER.differences(committed, edited)
    assert not RUNNER.differences(committed, nbformat.read(path, as_version=4))
    tmp = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "/tmp/abc/board.sqlite"}],
                      "metadata": {}}]}
    other = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "/tmp/xyz/board.sqlite"}],
                        "metadata": {}}]}
    assert not RUNNER.differences(nbformat.from_dict(tmp), nbformat.from_dict(other)), "temporary paths are masked"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
