"""One writer of benchmarks/RESULTS.md for every benchmark script.

Each script owns one section between ``<!-- BEGIN name -->`` and ``<!-- END name -->``; a rerun replaces
only that section and leaves every other one as it was (a heading-based match once swallowed the rest of
the file), a first run appends it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RESULTS", "publish", "write_section"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section of benchmark ``name`` in ``path`` with ``text``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    doc = path.read_text(encoding="utf-8") if path.is_file() else "# floodtwin benchmark results\n"
    block = f"{begin}\n{text.strip(chr(10))}\n{end}"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def publish(name: str, text: str, *, write: bool = True, path: Path = RESULTS) -> None:
    """Print a benchmark's section and, unless ``write`` is false (``--no-write``), put it into ``path``."""
    print(text)
    if write:
        write_section(name, text, path)
        print(f"written: {path.name} (section {name})")
