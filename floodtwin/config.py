"""Configuration files: YAML validated by pydantic models, with errors naming file, key and line.

``load_yaml(path, Model)`` is the one way floodtwin reads a configuration file. A validation
error becomes a :class:`~floodtwin.errors.ConfigError` such as
``preplan.yaml:42: tiers.0.min_discharge_m3s: expected a number, got 'abc'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from floodtwin.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Repository data folder (reach, preplans, scenarios); ``FLOODTWIN_DATA`` overrides it.
DATA_DIR = Path(os.environ.get("FLOODTWIN_DATA", Path(__file__).resolve().parents[1] / "data"))


class StrictModel(BaseModel):
    """Base for configuration models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    loader.key_lines[id(mapping)] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | Path) -> tuple[Any, dict[tuple, int]]:
    """Parse a YAML file; return the data and a map from key path (tuple) to line number."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    loader = _LineLoader(path.read_text(encoding="utf-8"))
    loader.key_lines = {}
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    return data, _key_paths(data, loader.key_lines)


def _key_paths(data: Any, key_lines: dict[int, dict], prefix: tuple = ()) -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    if isinstance(data, dict):
        lines = key_lines.get(id(data), {})
        for key, value in data.items():
            if key in lines:
                out[prefix + (key,)] = lines[key]
            out.update(_key_paths(value, key_lines, prefix + (key,)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.update(_key_paths(value, key_lines, prefix + (i,)))
    return out


def line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    """Line of the deepest known key along ``loc`` (a pydantic error location or key path)."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def format_validation_error(path: Path, exc: ValidationError, lines: dict[tuple, int]) -> str:
    """First pydantic error as ``file:line: dotted.key: message`` (one line)."""
    err = exc.errors()[0]
    loc = tuple(err.get("loc", ()))
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = line_of(lines, loc)
    where = f"{path}:{line}" if line else str(path)
    msg = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif "input" in err and err.get("type") not in ("missing",):
        shown = repr(err["input"])
        if len(shown) < 60:
            msg = f"{msg}, got {shown}"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {key}: {msg}{suffix}"


def load_yaml(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read ``path`` and validate it against ``model``; raise ConfigError naming file, line and key."""
    path = Path(path)
    data, lines = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, lines)) from None
