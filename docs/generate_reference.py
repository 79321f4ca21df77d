"""Write the generated reference pages of the user guide from the code itself, so that they cannot drift:

- ``docs/config-reference.md``: every YAML file floodtwin reads, field by field, from the pydantic models
  that validate it (type, default or "required", the model's docstring), and the reach GeoPackage's layers
  from the table ``load_reach`` checks them against;
- ``docs/api-reference.md``: every public name of ``import floodtwin`` (the lazy API), with its signature and
  the first paragraph of its docstring (units included).

    python docs/generate_reference.py          # rewrite both pages
    python docs/generate_reference.py --check  # exit 1 when a committed page differs from the code

``tests/unit/test_docs_reference.py`` runs the check.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import typing
from pathlib import Path

__all__ = ["CONFIG_FILES", "config_reference", "api_reference", "pages", "main"]

DOCS = Path(__file__).resolve().parent

#: the YAML files floodtwin reads: (file pattern, what it is, "module:Model" that validates it)
CONFIG_FILES = [
    ("data/config/dispatch.yaml", "dispatch: timers, escalation, shifts, notifiers, digests "
     "(`--config`, `$FLOODTWIN_CONFIG`)", "floodtwin.dispatch.settings:DispatchConfig"),
    ("data/preplans/<reach>.yaml", "the preplan: response tiers, triggers, roles, task templates",
     "floodtwin.preplan.model:PreplanModel"),
    ("data/sensors/thresholds.yaml", "the smart stones' alarm thresholds (`--thresholds`)",
     "floodtwin.sensors.alarms:Thresholds"),
    ("data/config/dangers.yaml", "the danger kinds of field reports, their severities and response tasks",
     "floodtwin.reports.dangers:DangerTable"),
    ("scenarios/<name>.yaml", "a named scenario: hydrograph (shape or series) and breaches",
     "floodtwin.hydrograph:ScenarioSpec"),
    ("data/dikes/<reach>.yaml", "the reach's parameters (`floodtwin reach build`)",
     "floodtwin.reach.params:ReachParams"),
    ("data/dikes/<reach>.calibration.yaml", "the 1D channel's calibration (`floodtwin calibrate`)",
     "floodtwin.hydraulics.sections:CalibrationFile"),
    ("alerts.yaml", "the scheduled alert run: database, dispatch file, preplan, feeds (stations, sources, quality "
     "limits), forecast, CAP messages (`floodtwin alert-run --config`, `watch`; annotated example "
     "`data/config/alerts.example.yaml`)", "floodtwin.alerts.settings:AlertsConfig"),
]


def _load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _first_paragraph(doc: str | None) -> str:
    text = inspect.cleandoc(doc or "").split("\n\n")[0]
    return " ".join(text.split())


def _type_name(annotation) -> str:
    """A readable type: ``list[TierSpec]``, ``float | None``, ``Literal['left', 'right']``."""
    text = annotation.__name__ if isinstance(annotation, type) and not typing.get_args(annotation) else repr(annotation)
    text = re.sub(r"\b(?:floodtwin|typing|pathlib|datetime|collections\.abc)\.(?:\w+\.)*", "", text)
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text)
    text = text.replace("NoneType", "None")
    text = re.sub(r"Annotated\[(.*?), FieldInfo\(.*?\)\]", r"\1", text)
    return re.sub(r"Optional\[(.*)\]$", r"\1 | None", text)


def _models_in(annotation) -> list[type]:
    """The pydantic models an annotation refers to (in list[...], X | None, dict[str, X], ...)."""
    from pydantic import BaseModel

    found: list[type] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _default(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.is_required():
        return "required"
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:  # a factory that takes the validated data
            return "computed"
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    text = repr(value)
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}…`"


def _field_comments(model: type) -> dict[str, str]:
    """The ``#:`` comments written above the fields in the source of ``model`` and its bases (the
    autodoc convention the models use for a field without a ``description``): field name -> text."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if "model_fields" not in vars(cls) and cls is not model:
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            m = re.match(r"(\w+)\s*:", stripped)
            if m and pending:
                found[m.group(1)] = " ".join(pending)
            pending = []
    return found


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (a ``|``, even in a code span, would split the cell)."""
    return text.replace("|", "\\|")


def _model_section(model: type, title: str, seen: set[type]) -> list[str]:
    """Markdown of one model's fields, then of the models it contains (each once)."""
    lines = [f"### {title}", ""]
    doc = _first_paragraph(model.__doc__)
    if doc:
        lines += [doc, ""]
    lines += ["| key | type | default |", "|---|---|---|"]
    nested: list[type] = []
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        notes = " ".join((field.description or comments.get(name, "")).split())
        lines.append(f"| `{key}` | `{_cell(_type_name(field.annotation))}` | {_cell(_default(field))}"
                     + (f" — {_cell(notes)}" if notes else "") + " |")
        nested += [m for m in _models_in(field.annotation) if m not in seen]
    lines.append("")
    for m in dict.fromkeys(nested):
        if m in seen:
            continue
        seen.add(m)
        lines += _model_section(m, f"`{m.__name__}`", seen)
    return lines


def config_reference() -> str:
    """The text of docs/config-reference.md."""
    from floodtwin.reach.load import LAYER_SCHEMAS, STAFF_ROLES, STONE_TOLERANCE_M

    lines = ["# Configuration reference", "",
             "Generated by `python docs/generate_reference.py` from the pydantic models that validate each file "
             "(`tests/unit/test_docs_reference.py` fails when this page and the models differ): do not edit by "
             "hand. Every model forbids unknown keys; an error names the file, the line and the key. How the files "
             "are used: the [operator](guide/operator.md) chapter of the guide.", "",
             "| file | what | model |", "|---|---|---|"]
    for path, what, target in CONFIG_FILES:
        name = target.partition(":")[2]
        lines.append(f"| `{path}` | {what} | [`{name}`](#{name.lower()}) |")
    lines.append("")
    seen: set[type] = set()
    for path, what, target in CONFIG_FILES:
        model = _load(target)
        seen.add(model)
        lines += [f"## `{path}`", "", f"{what[0].upper()}{what[1:]}. Model: `{target}`.", ""]
        lines += _model_section(model, f"{model.__name__}", seen)
    lines += ["## Reach GeoPackage layers", "",
              "The layers `load_reach` requires in `data/dikes/<reach>.gpkg` (EPSG:4547), each with its geometry "
              "type and required columns (`floodtwin.reach.load.LAYER_SCHEMAS`; the first column is the layer's id "
              "where it has one); extra columns are kept. Staff roles: " + ", ".join(f"`{r}`" for r in STAFF_ROLES)
              + f"; a stone lies at most {STONE_TOLERANCE_M:g} m from its spur's line. See "
              "[Your own survey data](guide/own-data.md).", "",
              "| layer | geometry | required columns |", "|---|---|---|"]
    for layer, (geom, columns) in LAYER_SCHEMAS.items():
        lines.append(f"| `{layer}` | {geom} | {', '.join(f'`{c}`' for c in columns)} |")
    lines.append("")
    return "\n".join(lines)


def api_reference() -> str:
    """The text of docs/api-reference.md."""
    import floodtwin

    lines = ["# API reference: `import floodtwin`", "",
             "Generated by `python docs/generate_reference.py` from the docstrings (checked by "
             "`tests/unit/test_docs_reference.py`): do not edit by hand. These are the names `import floodtwin` "
             "offers (imported on first use); `help(floodtwin.NAME)` or `python -m pydoc floodtwin.MODULE` give "
             "the whole docstring. Examples: the [analyst](guide/analyst.md) chapter and the notebooks.", "",
             "| name | defined in | |", "|---|---|---|"]
    for name in sorted(floodtwin._LAZY):
        target = floodtwin._LAZY[name]
        lines.append(f"| [`{name}`](#{name.lower()}) | `{target.replace(':', '.')}` | "
                     f"{_first_paragraph(getattr(floodtwin, name).__doc__).split('. ')[0].rstrip('.')} |")
    lines.append("")
    for name in sorted(floodtwin._LAZY):
        obj = getattr(floodtwin, name)
        lines += [f"## `{name}`", ""]
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            sig = ""
        else:
            try:
                sig = str(inspect.signature(obj))
            except (TypeError, ValueError):
                sig = ""
        sig = re.sub(r" at 0x[0-9a-f]+", "", sig)
        kind = "class" if inspect.isclass(obj) else "def"
        lines += ["```python", f"{kind} {name}{sig}", "```", "", _first_paragraph(obj.__doc__), ""]
    return "\n".join(lines)


def pages() -> dict[Path, str]:
    """Each generated page and its text."""
    return {DOCS / "config-reference.md": config_reference(), DOCS / "api-reference.md": api_reference()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write (or --check) docs/config-reference.md and docs/api-reference.md.")
    ap.add_argument("--check", action="store_true", help="exit 1 when a committed page differs; write nothing")
    args = ap.parse_args(argv)
    stale = []
    for path, text in pages().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)} (run python docs/generate_reference.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
