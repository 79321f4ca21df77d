"""The generated reference pages match the code, and the public API's docstrings state their units."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_reference", REPO / "docs" / "generate_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
#: a unit named in a docstring: m, m³/s, m/s, s, h, min, degrees, ...
UNIT = re.compile(r"(m³/s|m3/s|m/s|\bm\b|\(m\)|\bkm²?\b|\bs\b|seconds|\bh\b|hours|\bmin\b|minutes|degrees|°)")
#: a parameter whose name carries a unit (discharge_m3s, dx_m, duration_s, ...)
UNIT_SUFFIX = re.compile(r"_(m|s|m3s|ms|h|min|km2|deg)$")


@pytest.mark.parametrize("page", ["config-reference.md", "api-reference.md"])
def test_generated_page_matches_the_code(page):
    fresh = GEN.pages()[REPO / "docs" / page]
    committed = (REPO / "docs" / page).read_text(encoding="utf-8")
    assert committed == fresh, f"docs/{page} is stale: run python docs/generate_reference.py"


def test_every_field_of_every_config_model_is_in_the_reference():
    text = GEN.config_reference()
    for _, _, target in GEN.CONFIG_FILES:
        model = GEN._load(target)
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in text, f"{target}: field {name} missing from the reference"
    from floodtwin.reach.load import LAYER_SCHEMAS

    for layer in LAYER_SCHEMAS:
        assert f"| `{layer}` |" in text


def test_every_public_name_has_a_docstring_and_units():
    import floodtwin

    for name in sorted(floodtwin._LAZY):
        obj = getattr(floodtwin, name)
        doc = inspect.getdoc(obj)
        assert doc and len(doc) > 20, f"floodtwin.{name} has no docstring"
        assert f"## `{name}`" in GEN.api_reference()
        if inspect.isfunction(obj):
            params = inspect.signature(obj).parameters.values()
            with_units = [p.name for p in params if UNIT_SUFFIX.search(p.name) or p.annotation in (float, "float")]
            if with_units:
                assert UNIT.search(doc), f"floodtwin.{name}({', '.join(with_units)}): the docstring names no unit"


def test_the_unit_check_can_fail():
    def bad(depth_m: float) -> float:
        """Double it."""
        return 2 * depth_m

    assert not UNIT.search(inspect.getdoc(bad))
    assert UNIT.search("Stage (m) at a gauge for each discharge (m³/s).")
