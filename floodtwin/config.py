"""Configuration files: YAML validated by pydantic models, with errors naming file, key and line.

``load_yaml(path, Model)`` is the one way floodtwin reads a configuration file. A validation
error becomes a :class:`~floodtwin.errors.ConfigError` such as
``preplan.yaml:42: tiers.0.min_discharge_m3s: expected a number, got 'abc'``. A valid file is parsed
once with libyaml (fast); the line-tracking parser (:func:`read_yaml`) runs only to report a problem,
and a ``check`` callback (a model's semantic checks, e.g. the preplan's) gets the line map lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from floodtwin.errors import ConfigError

__all__ = ["DATA_DIR", "StrictModel", "format_validation_error", "line_of", "load_yaml", "read_yaml"]

ModelT = TypeVar("ModelT", bound=BaseModel)
#: libyaml's parser where installed (same YAML semantics as SafeLoader, several times faster)
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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


def load_yaml(path: str | Path, model: type[ModelT], *, kind: str = "configuration",
              check: Callable[[ModelT, Callable[[], dict[tuple, int]]], None] | None = None) -> ModelT:
    """Read ``path`` and validate it against ``model``; raise ConfigError naming file, line and key.

    ``kind`` names the file in messages ("is a directory, not a preplan YAML file"). ``check(model,
    lines)``, when given, runs the semantic checks of a shape-valid file; ``lines()`` returns the map
    from key path to line (parsed only when called, i.e. when a check fails).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a {kind} YAML file")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        read_yaml(path)  # raises the ConfigError with file and line
        raise
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {kind} keys at the top level")
    lines = lambda: read_yaml(path)[1]  # noqa: E731 - parsed again only to place an error
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, lines())) from None
    if check is not None:
        check(result, lines)
    return result
