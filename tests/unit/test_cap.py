"""CAP 1.2 messages (floodtwin.alerts.cap): Alert, Update and Cancel valid against the OASIS CAP 1.2
schema shipped in tests/fixtures/cap, with the colour and level as parameters and the flooded
villages of the 1D quick answer as polygons in WGS 84."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from floodtwin.alerts.cap import cap_message, identifier_for, msg_type_for, village_areas

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).resolve().parents[1] / "fixtures" / "cap" / "CAP-v1.2.xsd")))
NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
SENT = datetime(2026, 7, 20, 0, 5, tzinfo=timezone.utc)
DECISION = {"tier": "III", "colour": "yellow", "discharge_m3s": 9000.0, "reason": "observed 9,000 m³/s ≥ 6,000",
            "reason_zh": "实测流量9,000 m³/s≥6,000"}
NAMES = {"III": ("Ⅲ级应急响应", "level III response", "黄色"), "normal": ("常态", "normal", "绿色")}


@pytest.fixture(scope="module")
def villages():
    from floodtwin.reach.gpkg import read_layers
    from floodtwin.reach.load import reach_paths

    return read_layers(reach_paths("huayuankou")[0], ["villages"])["villages"]


@pytest.fixture(scope="module")
def flooded_at_9000():
    from floodtwin.cli.alert import quick_flooded_villages

    return quick_flooded_villages(9000.0)


def message(msg_type, areas, references=None, decision=DECISION):
    return cap_message(identifier=identifier_for("hyk.test", SENT, decision["tier"], msg_type), sender="hyk.test",
                       sender_name="test", sent=SENT, status="Exercise", msg_type=msg_type, references=references,
                       decision=decision, tier_names=NAMES, areas=areas, deciding="observed", expires_h=24)


def test_msg_type_rules():
    assert msg_type_for(None, "IV") == "Alert" and msg_type_for("normal", "IV") == "Alert"
    assert msg_type_for("IV", "III") == "Update" and msg_type_for("IV", "IV") is None
    assert msg_type_for("IV", "normal") == "Cancel" and msg_type_for(None, "normal") is None


def test_alert_with_the_flooded_villages_is_valid_cap(villages, flooded_at_9000):
    assert flooded_at_9000, "the 1D quick answer floods floodplain villages at 9,000 m³/s"
    areas = village_areas(villages, flooded_at_9000, radius_m=400.0, discharge_m3s=9000.0)
    assert len(areas) == len(flooded_at_9000)
    doc = etree.fromstring(message("Alert", areas).encode())
    XSD.assertValid(doc)
    info = doc.findall("c:info", NS)
    assert [i.findtext("c:language", namespaces=NS) for i in info] == ["zh-CN", "en-US"]
    params = {p.findtext("c:valueName", namespaces=NS): p.findtext("c:value", namespaces=NS)
              for p in info[1].findall("c:parameter", NS)}
    assert params == {"level": "III", "colour": "yellow", "discharge_m3s": "9000", "deciding_value": "observed"}
    assert info[1].findtext("c:severity", namespaces=NS) == "Severe"
    assert info[0].findtext("c:headline", namespaces=NS) == "花园口河段启动Ⅲ级应急响应（黄色）"
    assert doc.findtext("c:sent", namespaces=NS) == "2026-07-20T08:05:00+08:00"
    for poly in info[0].findall("c:area/c:polygon", NS):
        pairs = [tuple(map(float, p.split(","))) for p in poly.text.split()]
        assert pairs[0] == pairs[-1] and len(pairs) >= 4  # a closed ring (CAP 1.2 §3.3.2)
        for lat, lon in pairs:  # WGS 84 lat,lon around Huayuankou (34.91 N 113.66 E, docs/reach.md §3)
            assert 34.8 < lat < 35.0 and 113.5 < lon < 113.9


def test_update_and_cancel_reference_the_previous_message(villages):
    areas = village_areas(villages, [], radius_m=400.0)
    assert len(areas) == 1 and "no village flooded" in areas[0].desc
    first = f"hyk.test,{identifier_for('hyk.test', SENT, 'IV', 'Alert')},2026-07-20T08:05:00+08:00"
    for kind, decision in (("Update", DECISION), ("Cancel", {**DECISION, "tier": "normal", "colour": "green"})):
        doc = etree.fromstring(message(kind, areas, references=first, decision=decision).encode())
        XSD.assertValid(doc)
        assert doc.findtext("c:msgType", namespaces=NS) == kind
        assert doc.findtext("c:references", namespaces=NS) == first
    assert doc.find("c:info/c:responseType", NS).text == "AllClear"


def test_schema_refuses_a_broken_message(villages):
    doc = etree.fromstring(message("Alert", village_areas(villages, [], radius_m=400.0)).encode())
    doc.find("c:msgType", NS).text = "Warning"  # not a CAP message type
    assert not XSD.validate(doc)
