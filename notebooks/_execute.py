"""Execute the analyst notebooks, refresh their committed outputs, or check that those are not stale.

    python notebooks/_execute.py            # execute every notebook in place (the outputs are committed)
    python notebooks/_execute.py --check    # execute each in memory and compare with the committed outputs
    python notebooks/_execute.py 02_rating_and_routing.ipynb   # one notebook

The comparison is of a normalised form of each code cell's outputs: the text (streams, plain-text
results, errors) with temporary paths and object addresses masked, a rounded zero without its sign, runs of spaces as one, and each figure as the bare fact that
there is one (PNG bytes differ between matplotlib builds). A cell tagged ``nondeterministic`` in its
metadata (a clock, a timing) is compared by its kinds of output only. ``tests/integration/test_notebooks.py``
uses the same functions.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

__all__ = ["NOTEBOOKS", "HERE", "execute", "normalised", "differences", "main"]

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(p.name for p in HERE.glob("[0-9][0-9]_*.ipynb"))
#: seconds one cell may run before the execution is an error (a notebook must run in under a minute)
CELL_TIMEOUT_S = 300

_MASKS = [
    (re.compile(r"/tmp/[^\s'\")]*|/var/folders/[^\s'\")]*|[A-Za-z]:\\[^\s'\")]*Temp[^\s'\")]*"), "<tmp>"),
    (re.compile(r" at 0x[0-9a-f]+"), " at 0x…"),
    # a rounded zero may print with either sign (-0.000 / 0.000) from one CPU to the next
    (re.compile(r"(?<![0-9.])[-+](0\.0+)(?![0-9])"), r"\1"),
    # column alignment follows the widest value: compare words, not runs of spaces
    (re.compile(r"[ \t]+"), " "),
]


def execute(path: Path, *, timeout_s: int = CELL_TIMEOUT_S):
    """Run the notebook at ``path`` top to bottom in a fresh kernel, in its own folder; return the executed
    ``nbformat.NotebookNode`` (the file is not written). A failing cell raises
    ``nbclient.exceptions.CellExecutionError`` naming the cell and the error."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout_s, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _text(output) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data", {})
    parts = []
    if "image/png" in data:
        parts.append("<figure>")
    elif "text/plain" in data:
        parts.append(data["text/plain"])
    return "\n".join(parts)


def normalised(nb) -> list[tuple[int, str]]:
    """(cell number, normalised text of its outputs) for every code cell."""
    rows = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        loose = "nondeterministic" in cell.get("metadata", {}).get("tags", [])
        texts = []
        for out in cell.get("outputs", []):
            text = out.get("output_type", "") if loose else _text(out)
            for pattern, repl in _MASKS:
                text = pattern.sub(repl, text)
            texts.append(text.rstrip())
        rows.append((k, "\n".join(texts)))
    return rows


def differences(committed, executed) -> list[str]:
    """Where the outputs of ``executed`` differ from the ``committed`` notebook's: one line per cell."""
    import difflib

    old, new = dict(normalised(committed)), dict(normalised(executed))
    lines = []
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            diff = list(difflib.unified_diff((old.get(k) or "").splitlines(), (new.get(k) or "").splitlines(),
                                             lineterm="", n=0))
            first = next((d for d in diff[2:] if d[:1] in "+-"), "")
            lines.append(f"cell {k}: committed and fresh outputs differ ({len(diff) - 2} lines), first: {first[:160]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Execute (and write) or check the notebooks named, or all of them; exit status 1 when one is stale."""
    import nbformat

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook file names (default: all)")
    ap.add_argument("--check", action="store_true", help="compare with the committed outputs; write nothing")
    args = ap.parse_args(argv)
    stale = 0
    for name in args.names or NOTEBOOKS:
        path = HERE / Path(name).name
        t0 = time.perf_counter()
        nb = execute(path)
        took = time.perf_counter() - t0
        if args.check:
            diff = differences(nbformat.read(path, as_version=4), nb)
            stale += bool(diff)
            print(f"{path.name}: {took:.0f} s, " + ("outputs up to date" if not diff else "STALE"))
            for line in diff:
                print("  " + line)
        else:
            nbformat.write(nb, path)
            print(f"{path.name}: executed in {took:.0f} s, outputs written")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
