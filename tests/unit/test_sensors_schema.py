"""The supplier JSON Schema states the same rules as the validator (fields, types, ranges)."""

from __future__ import annotations

import json
from importlib import resources

from floodtwin.sensors import readings as rd


def schema() -> dict:
    return json.loads(resources.files("floodtwin").joinpath("schemas/stone_reading.schema.json").read_text("utf-8"))


def test_schema_fields_and_required_match_the_validator():
    s = schema()
    assert s["additionalProperties"] is False
    assert set(s["properties"]) == set(rd.FIELDS)
    assert set(s["required"]) == {"stone_id", "time", "seq", "event", "link"}
    assert set(s["then"]["required"]) == set(rd.MEASURED)
    assert s["properties"]["event"]["enum"] == list(rd.EVENTS)
    assert s["properties"]["link"]["enum"] == list(rd.LINKS)
    assert s["properties"]["seq"]["maximum"] == rd.SEQ_MAX and s["properties"]["seq"]["minimum"] == 0


def test_schema_ranges_match_the_validator():
    props = schema()["properties"]
    for name, (lo, hi) in rd.RANGES.items():
        spec = props[name]["items"] if name == "accel_g" else props[name]
        assert (spec["minimum"], spec["maximum"]) == (lo, hi), name
    assert props["accel_g"]["minItems"] == props["accel_g"]["maxItems"] == 3


def test_the_schema_example_in_the_docs_is_accepted():
    doc = rd.__doc__
    example = json.loads(doc[doc.index("{"):doc.index("}") + 1])
    index = {"ST001": 0}
    values = rd.check_record(example, index, now_ms=2_000_000_000_000, future_ms=300_000)
    assert values[0] == "ST001" and values[2] == 1_784_592_000_000  # 2026-07-21T00:00Z
