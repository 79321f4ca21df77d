"""The package's import structure follows the data flow of DESIGN.md (docs/architecture.md).

Every module belongs to a *unit* (a top-level module or folder of ``floodtwin``); units stand on
floors, and a module may import only from its own unit or from units on lower floors. So no loop
between folders can form, ``sensors`` and ``dispatch`` (same floor) cannot import each other, and
nothing low (the reach, the engines) can reach up into an orchestrator or the CLI. Imports inside
functions count: a lazy import against the flow is still against it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "floodtwin"

#: floor of each unit, lowest first (DESIGN.md "Data flow" and "Layout")
FLOORS: dict[str, int] = {
    # ground: error types, lazy-API helper, physical constants and codes of the engines
    "errors": 0, "_lazy": 0, "hydraulics._codes": 0, "hydraulics._jit": 0,
    # shared facts and storage
    "config": 1, "variables": 1, "tasks": 1, "db": 1, "_renamed": 1, "files": 1,
    "results": 2, "batch": 2,
    # the reach and what flows into the engines
    "reach": 3,
    "hydrograph": 4, "hydraulics": 4, "forecast": 4,
    "risk": 5,
    "library": 6,
    # decisions and monitoring, side by side: neither imports the other
    "preplan": 7, "sensors": 7, "feeds": 7,
    "dispatch": 8,
    "reports": 9, "maps": 9,
    # the two orchestrators
    "scenario": 10, "alerts": 10,
    "serve": 11,
    "cli": 12,
    "__main__": 13,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str | None:
    """The unit a dotted ``floodtwin.*`` module belongs to (longest match in FLOORS); None for the
    package itself (``floodtwin/__init__.py``, the lazy public API above every floor)."""
    rest = module.split(".")[1:]
    for n in range(len(rest), 0, -1):
        name = ".".join(rest[:n])
        if name in FLOORS:
            return name
    return None


def imports_of(path: Path) -> set[str]:
    """Every ``floodtwin`` module ``path`` imports (relative imports resolved; ``from X import Y``
    counts as X.Y when Y is a module, else X; ``from floodtwin import __version__`` is metadata and
    does not count)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "floodtwin")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "floodtwin":
                continue
            for alias in node.names:
                if target == "floodtwin" and alias.name.startswith("__"):
                    continue  # floodtwin.__version__: metadata, not the lazy API
                sub = PACKAGE.parent / (target + "." + alias.name).replace(".", "/")
                found.add(target + "." + alias.name if sub.with_suffix(".py").exists() or sub.is_dir() else target)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the floodtwin modules it imports, for every module of the package."""
    return {_module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def unit_graph() -> dict[str, set[str]]:
    """unit -> the other units it imports (the folder-level picture of the note and the docs)."""
    out: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        unit = unit_of(module)
        if unit is None:
            continue
        out.setdefault(unit, set()).update(u for t in targets if (u := unit_of(t)) not in (None, unit))
    return out


def test_every_module_belongs_to_a_unit_with_a_floor():
    homeless = [m for m in import_graph() if m != "floodtwin" and unit_of(m) is None]
    assert not homeless, f"modules outside every unit of FLOORS (add the unit to DESIGN and FLOORS): {homeless}"


def test_imports_only_go_down_the_floors():
    against = []
    for module, targets in import_graph().items():
        unit = unit_of(module)
        if unit is None:  # floodtwin/__init__.py: the lazy public API over everything
            continue
        for target in sorted(targets):
            other = unit_of(target)
            if other is None and target == "floodtwin":
                against.append(f"{module} -> floodtwin (the lazy public API: import the module that defines it)")
            elif other is None:
                against.append(f"{module} -> {target} (a module in no unit of FLOORS)")
            elif other != unit and FLOORS[other] >= FLOORS[unit]:
                against.append(f"{module} (floor {FLOORS[unit]}) -> {target} (floor {FLOORS[other]})")
    assert not against, "imports against the data flow:\n" + "\n".join(against)


def test_no_loop_between_units():
    graph = unit_graph()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(unit: str, path: list[str]) -> list[str] | None:
        seen[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            if seen.get(nxt) == 1:
                return path + [unit, nxt]
            if nxt not in seen and (loop := visit(nxt, path + [unit])):
                return loop
        seen[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in seen:
            loop = visit(unit, [])
            assert loop is None, f"import loop between units: {' -> '.join(loop)}"


def test_the_checker_sees_an_import_against_the_flow(tmp_path):
    # the checks above can fail: a reach module importing the CLI is found and resolved to its unit
    bad = PACKAGE / "reach" / "_layout_probe.py"
    try:
        bad.write_text("def f():\n    from floodtwin.cli import main\n    from ..scenario import run_scenario\n")
        targets = imports_of(bad)
    finally:
        bad.unlink()
    assert {"floodtwin.cli", "floodtwin.scenario"} <= targets, targets
    assert FLOORS[unit_of("floodtwin.cli")] > FLOORS[unit_of("floodtwin.reach.terrain")]


@pytest.mark.parametrize("module", ["floodtwin.sensors.ingest", "floodtwin.dispatch.board"])
def test_units_are_found_for_nested_modules(module):
    assert unit_of(module) == module.split(".")[1]
