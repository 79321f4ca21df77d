"""Public warning messages: OASIS Common Alerting Protocol 1.2 (CAP), one per warning raised,
changed or cancelled.

A warning is raised (``Alert``) when the level leaves normal, changed (``Update``, referencing the
message it replaces) when the level changes, and cancelled (``Cancel``, referencing the last one)
when the level is back to normal. Each message has an ``info`` block in Chinese and one in English
(event, urgency, severity, certainty, headline, instruction, the colour and level as parameters),
and the affected area: one polygon per floodplain village the 1D quick answer floods at the
deciding discharge, a circle of ``village_radius_m`` around the village's point (the reach layer
holds points) as a closed ring of ``lat,lon`` pairs in WGS 84, the CAP coordinate system. When no
village floods, the area is the floodplain of the reach (the hull of its villages). Times are
written as CAP wants them: ``YYYY-MM-DDThh:mm:ss+hh:mm``, no fractional seconds.

Reference: OASIS, Common Alerting Protocol Version 1.2, OASIS Standard, 1 July 2010
(docs.oasis-open.org/emergency/cap/v1.2/); the XML schema is tests/fixtures/cap/CAP-v1.2.xsd.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

__all__ = ["CAP_NS", "SEVERITY", "RESPONSE", "CapArea", "cap_time", "village_areas", "msg_type_for", "identifier_for",
           "cap_message", "write_text_atomic"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
#: the preplan's tiers as CAP severity (CAP 1.2 §3.2.2: Extreme, Severe, Moderate, Minor)
SEVERITY = {"normal": "Minor", "IV": "Moderate", "III": "Severe", "II": "Severe", "I": "Extreme"}
#: the preplan's tiers as CAP responseType: the floodplain prepares at IV and III, moves at II and I
RESPONSE = {"IV": "Prepare", "III": "Prepare", "II": "Evacuate", "I": "Evacuate"}
#: what the public is told to do: (Chinese?, cancelled?) -> text
INSTRUCTION = {
    (True, False): "滩区群众听从村委会安排，远离河道和滩区低洼地带。",
    (False, False): "Floodplain residents: follow the village committee, keep away from the river and the low "
                    "floodplain.",
    (True, True): "预警解除，注意后续通知。",
    (False, True): "Warning over; watch for further notices.",
}
#: the staff's clock (Beijing time) for the times written in messages
CAP_UTC_OFFSET_H = 8.0


@dataclass(frozen=True)
class CapArea:
    """One ``<area>``: its description and polygons (each a list of (lat, lon) pairs, closed)."""

    desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...]


def cap_time(t: datetime) -> str:
    """``t`` as CAP writes a time: local (UTC+8) with its offset, whole seconds."""
    local = t.astimezone(timezone(timedelta(hours=CAP_UTC_OFFSET_H))).replace(microsecond=0)
    return local.isoformat()


def _ring_latlon(geom: Any, transformer: Any) -> tuple[tuple[float, float], ...]:
    xs, ys = geom.exterior.coords.xy
    lon, lat = transformer.transform(list(xs), list(ys))
    ring = [(round(b, 6), round(a, 6)) for a, b in zip(lon, lat)]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return tuple(ring)


def village_areas(villages: list[dict[str, Any]], flooded_ids: Iterable[str], *, radius_m: float,
                  crs: str = "EPSG:4547", discharge_m3s: float | None = None) -> list[CapArea]:
    """The CAP areas of the flooded villages (``villages``: records with ``village_id``,
    ``name_zh``, ``name_en``, ``_geom`` as points in ``crs``); the reach floodplain when none floods."""
    import shapely
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    wanted = set(flooded_ids)
    areas = []
    for v in villages:
        if v["village_id"] in wanted:
            poly = v["_geom"].buffer(radius_m, quad_segs=4)
            areas.append(CapArea(f"{v['name_zh']} {v['name_en']} ({v['village_id']})",
                                 (_ring_latlon(poly, to_wgs84),)))
    if not areas and villages:
        hull = shapely.MultiPoint([v["_geom"] for v in villages]).convex_hull.buffer(radius_m, quad_segs=4)
        at = f" at {discharge_m3s:,.0f} m³/s" if discharge_m3s is not None else ""
        areas.append(CapArea(f"花园口镇黄河滩区 Huayuankou floodplain of the Yellow River (no village flooded in the "
                             f"1D quick answer{at})", (_ring_latlon(hull, to_wgs84),)))
    return areas


def msg_type_for(previous_tier: str | None, tier: str) -> str | None:
    """CAP msgType for a level going from ``previous_tier`` (the last message's; None: no warning
    in force) to ``tier``: Alert, Update, Cancel, or None when nothing changed."""
    active = previous_tier not in (None, "normal")
    if tier == "normal":
        return "Cancel" if active else None
    if not active:
        return "Alert"
    return "Update" if tier != previous_tier else None


def identifier_for(sender: str, sent: datetime, tier: str, msg_type: str) -> str:
    """A message identifier unique for its sender: the station, the decision's UTC time, tier and type."""
    stamp = sent.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{sender}.HYK.{stamp}.{tier}.{msg_type}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def cap_message(*, identifier: str, sender: str, sender_name: str, sent: datetime, status: str, msg_type: str,
                references: str | None, decision: dict[str, Any], tier_names: dict[str, tuple[str, str, str]],
                areas: list[CapArea], deciding: str, expires_h: float) -> str:
    """The CAP 1.2 XML text of one message. ``decision`` is the TierDecision's dict, ``tier_names``
    tier id -> (Chinese name, English name, Chinese colour), ``deciding`` "observed" or "forecast" (which value set the
    level), ``references`` the ``sender,identifier,sent`` of the message(s) replaced."""
    ET.register_namespace("", CAP_NS)
    root = ET.Element(f"{{{CAP_NS}}}alert")
    for tag, text in (("identifier", identifier), ("sender", sender), ("sent", cap_time(sent)), ("status", status),
                      ("msgType", msg_type), ("scope", "Public")):
        _sub(root, tag, text)
    if references:
        _sub(root, "references", references)
    tier, colour = decision["tier"], decision["colour"]
    q = decision["discharge_m3s"]
    name_zh, name_en, colour_zh = tier_names.get(tier, (tier, tier, colour))
    cancel = msg_type == "Cancel"
    for lang in ("zh-CN", "en-US"):
        zh = lang == "zh-CN"
        info = _sub(root, "info")
        _sub(info, "language", lang)
        _sub(info, "category", "Met")
        _sub(info, "event", "黄河洪水" if zh else "Yellow River flood")
        _sub(info, "responseType", "AllClear" if cancel else RESPONSE.get(tier, "Monitor"))
        _sub(info, "urgency", "Past" if cancel else ("Immediate" if deciding == "observed" else "Expected"))
        _sub(info, "severity", "Minor" if cancel else SEVERITY.get(tier, "Unknown"))
        _sub(info, "certainty", "Observed" if cancel or deciding == "observed" else "Likely")
        _sub(info, "effective", cap_time(sent))
        _sub(info, "expires", cap_time(sent + timedelta(hours=expires_h)))
        _sub(info, "senderName", sender_name)
        which = ("实测" if deciding == "observed" else "预报") if zh else deciding
        if cancel:
            head = ("花园口河段洪水预警解除" if zh else "Huayuankou reach: flood warning cancelled")
        else:
            head = (f"花园口河段启动{name_zh}（{colour_zh}）" if zh else
                    f"Huayuankou reach: {name_en} ({colour})")
        _sub(info, "headline", head)
        reason = decision.get("reason_zh") if zh else decision.get("reason")
        _sub(info, "description", (f"花园口站流量{q:,.0f}立方米每秒（{which}）。{reason or ''}" if zh else
                                   f"Huayuankou discharge {q:,.0f} m³/s ({which}). {reason or ''}").strip())
        _sub(info, "instruction", INSTRUCTION[(zh, cancel)])
        for name, value in (("level", tier), ("colour", colour), ("discharge_m3s", f"{q:.0f}"),
                            ("deciding_value", deciding)):
            p = _sub(info, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", str(value))
        for area in areas:
            a = _sub(info, "area")
            _sub(a, "areaDesc", area.desc)
            for ring in area.polygons:
                _sub(a, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in ring))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a message)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n", encoding="utf-8")
    tmp.replace(path)
