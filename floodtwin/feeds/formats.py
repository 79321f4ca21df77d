"""Feed formats -> raw records: SL 323 ``ST_RIVER_R`` (CSV or JSON rows), OGC WaterML 2.0 time
series (XML), OGC SensorThings API observations (JSON pages), a plain CSV.

Each reader takes the bytes of one answer and returns raw records (dicts: ``station`` as the feed
names it, ``time`` text, ``variable``, ``value`` as received, ``units`` as declared); a body that is
not the format at all (garbage, a truncated document, an XML bomb) is a :class:`FeedError` naming
the source. XML is parsed with defusedxml: no DTD, so no entity expansion and no external entity
is ever fetched. :func:`normalise` turns the records into the observation table (model.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from floodtwin.errors import FeedError
from floodtwin.feeds.model import OBS_COLUMNS, UNIT_FACTORS, VARIABLE_UNITS, FeedsConfig, SourceSpec

__all__ = ["parse_sl323_csv", "parse_sl323_json", "parse_waterml2", "parse_sensorthings", "parse_plain_csv",
           "PARSERS", "parse_time", "normalise"]

#: SL 323 ST_RIVER_R columns read: STCD station code, TM time, Z stage (m), Q discharge (m³/s)
_SL323_VARS = {"Z": "stage", "Q": "discharge"}


def _text(body: bytes, source: str) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(f"feed {source}: not UTF-8 text (byte {exc.start}); garbage or a binary answer") from None


def _records_sl323(rows: list[dict[str, Any]], src: SourceSpec) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        row = {str(k).strip().upper(): v for k, v in row.items()}
        for col, var in _SL323_VARS.items():
            value = row.get(col)
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue
            out.append({"station": row.get("STCD"), "time": row.get("TM"), "variable": var, "value": value,
                        "units": src.discharge_units if var == "discharge" else src.stage_units})
    return out


def _require_columns(fieldnames: list[str] | None, wanted: set[str], src: SourceSpec, what: str) -> None:
    have = {str(f).strip().upper() for f in (fieldnames or [])}
    missing = sorted(c for c in wanted if c.upper() not in have)
    if missing:
        raise FeedError(f"feed {src.name}: not a {what}: missing column(s) {', '.join(missing)}")


def parse_sl323_csv(body: bytes, src: SourceSpec) -> list[dict[str, Any]]:
    """``ST_RIVER_R`` rows as CSV with a header (STCD, TM, Z, Q, WPTN, ...)."""
    reader = csv.DictReader(io.StringIO(_text(body, src.name)))
    _require_columns(reader.fieldnames, {"STCD", "TM"}, src, "SL 323 ST_RIVER_R CSV")
    rows = list(reader)
    for i, row in enumerate(rows, 2):
        if None in row or any(v is None for v in row.values()):
            raise FeedError(f"feed {src.name}: line {i}: wrong number of fields (truncated body?)")
    return _records_sl323(rows, src)


def parse_sl323_json(body: bytes, src: SourceSpec) -> list[dict[str, Any]]:
    """``ST_RIVER_R`` rows as JSON: a list of row objects, or an object holding that list under
    ``ST_RIVER_R``, ``rows`` or ``data``."""
    try:
        doc = json.loads(_text(body, src.name))
    except json.JSONDecodeError as exc:
        raise FeedError(f"feed {src.name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; "
                        f"truncated body?)") from None
    if isinstance(doc, dict):
        doc = next((doc[k] for k in ("ST_RIVER_R", "rows", "data") if isinstance(doc.get(k), list)), None)
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise FeedError(f"feed {src.name}: expected a list of ST_RIVER_R row objects")
    return _records_sl323(doc, src)


_NS = {"wml2": "http://www.opengis.net/waterml/2.0", "om": "http://www.opengis.net/om/2.0",
       "gml": "http://www.opengis.net/gml/3.2", "xlink": "http://www.w3.org/1999/xlink",
       "sams": "http://www.opengis.net/samplingSpatial/2.0"}


def _xlink(el: Any, name: str) -> str | None:
    return None if el is None else el.get(f"{{{_NS['xlink']}}}{name}")


def _wml_variable(prop: Any) -> str | None:
    text = " ".join(t for t in (_xlink(prop, "title"), _xlink(prop, "href")) if t).lower()
    if any(w in text for w in ("discharge", "flow", "流量")):
        return "discharge"
    if any(w in text for w in ("stage", "level", "height", "水位")):
        return "stage"
    return None


def parse_waterml2(body: bytes, src: SourceSpec) -> list[dict[str, Any]]:
    """OGC WaterML 2.0: each ``om:OM_Observation`` (station: the feature of interest's xlink:title,
    xlink:href or gml:identifier; variable: the observed property's title or href; unit: the
    default point metadata's ``uom`` code) and its ``wml2:MeasurementTVP`` points."""
    import defusedxml
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(body, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise FeedError(f"feed {src.name}: XML refused ({type(exc).__name__}: a DTD or entities; "
                        f"an XML bomb or external entity is never expanded)") from None
    except ParseError as exc:
        raise FeedError(f"feed {src.name}: not well-formed XML ({exc}; truncated body?)") from None
    if root.tag not in (f"{{{_NS['wml2']}}}Collection", f"{{{_NS['om']}}}OM_Observation"):
        raise FeedError(f"feed {src.name}: not a WaterML 2.0 document (root element {root.tag})")
    observations = [root] if root.tag.endswith("OM_Observation") else root.findall(".//om:OM_Observation", _NS)
    out = []
    for obs in observations:
        foi = obs.find("om:featureOfInterest", _NS)
        ident = obs.find("om:featureOfInterest//gml:identifier", _NS)
        station = _xlink(foi, "title") or (ident.text if ident is not None else None) or _xlink(foi, "href")
        if station and "/" in station:
            station = station.rstrip("/").rsplit("/", 1)[-1]
        variable = _wml_variable(obs.find("om:observedProperty", _NS))
        uom = obs.find(".//wml2:defaultPointMetadata//wml2:uom", _NS)
        default_units = uom.get("code") if uom is not None else None
        for tvp in obs.findall(".//wml2:point/wml2:MeasurementTVP", _NS):
            t, v = tvp.find("wml2:time", _NS), tvp.find("wml2:value", _NS)
            pu = tvp.find(".//wml2:uom", _NS)
            out.append({"station": station, "time": t.text if t is not None else None, "variable": variable,
                        "value": v.text if v is not None else None,
                        "units": (pu.get("code") if pu is not None else None) or default_units})
    return out


def parse_sensorthings(body: bytes, src: SourceSpec) -> tuple[list[dict[str, Any]], str | None]:
    """One page of SensorThings ``Observations`` (``{"value": [...], "@iot.nextLink": ...}``);
    returns the records and the next page's URL (None on the last page). Station and variable come
    from the source (one Datastream's URL) or from each observation's expanded Datastream (its
    Thing's ``properties.stcd`` or name, ObservedProperty name, unitOfMeasurement symbol)."""
    try:
        doc = json.loads(_text(body, src.name))
    except json.JSONDecodeError as exc:
        raise FeedError(f"feed {src.name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; "
                        f"truncated body?)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
        raise FeedError(f"feed {src.name}: not a SensorThings answer (no \"value\" list of Observations)")
    out = []
    for ob in doc["value"]:
        if not isinstance(ob, dict):
            raise FeedError(f"feed {src.name}: an Observation is not an object")
        ds = ob.get("Datastream") or {}
        thing = ds.get("Thing") or {}
        station = src.station or (thing.get("properties") or {}).get("stcd") or thing.get("name")
        variable = src.variable
        if variable is None:
            name = str((ds.get("ObservedProperty") or {}).get("name", "")).lower()
            variable = "discharge" if "discharge" in name or "flow" in name else (
                "stage" if "stage" in name or "level" in name else None)
        units = (ds.get("unitOfMeasurement") or {}).get("symbol") or (
            src.discharge_units if variable == "discharge" else src.stage_units)
        time = ob.get("phenomenonTime")
        if isinstance(time, str) and "/" in time:  # an interval: its end
            time = time.split("/")[-1]
        out.append({"station": station, "time": time, "variable": variable, "value": ob.get("result"),
                    "units": units})
    link = doc.get("@iot.nextLink")
    return out, link if isinstance(link, str) and link else None


def parse_plain_csv(body: bytes, src: SourceSpec) -> list[dict[str, Any]]:
    """A plain CSV: ``station`` (id, code or name), ``time`` (or ``date``: the 08:00 reading of that
    local day, as the YRCC bulletin), ``discharge_m3s``/``discharge`` and/or ``stage_m``/``stage``."""
    reader = csv.DictReader(io.StringIO(_text(body, src.name)))
    names = {str(f).strip().lower(): f for f in (reader.fieldnames or [])}
    tcol = names.get("time") or names.get("date")
    if "station" not in names or tcol is None:
        raise FeedError(f"feed {src.name}: not a floodtwin CSV feed: expected columns station and time (or date)")
    cols = [(names[c], var) for c, var in (("discharge_m3s", "discharge"), ("discharge", "discharge"),
                                           ("stage_m", "stage"), ("stage", "stage")) if c in names]
    if not cols:
        raise FeedError(f"feed {src.name}: no discharge_m3s or stage_m column")
    out = []
    for i, row in enumerate(reader, 2):
        if None in row or any(v is None for v in row.values()):
            raise FeedError(f"feed {src.name}: line {i}: wrong number of fields (truncated body?)")
        t = row[tcol].strip()
        if len(t) == 10:  # a date: the bulletin's 08:00 local reading
            t = f"{t}T08:00:00"
        for col, var in cols:
            if row[col].strip() == "":
                continue
            out.append({"station": row[names["station"]], "time": t, "variable": var, "value": row[col],
                        "units": src.discharge_units if var == "discharge" else src.stage_units})
    return out


PARSERS = {"sl323_csv": parse_sl323_csv, "sl323_json": parse_sl323_json, "waterml2": parse_waterml2,
           "csv": parse_plain_csv}


def parse_time(text: Any, naive_utc_offset_h: float) -> datetime | None:
    """ISO 8601 (or SL 323 ``YYYY-MM-DD HH:MM:SS``) text as an aware UTC datetime; a time without a
    zone is on the feed's clock (``naive_utc_offset_h``); None when it is not a time."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone(timedelta(hours=naive_utc_offset_h)))
    return t.astimezone(timezone.utc)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def normalise(records: list[dict[str, Any]], src: SourceSpec, cfg: FeedsConfig) -> pd.DataFrame:
    """Raw records -> the observation table: station resolved, time in UTC, value converted to the
    canonical unit. A record that cannot be read (no time, not a number, unknown unit) is kept,
    rejected, with the reason; one of a station the configuration does not have is kept as
    ``ignored`` (an SL 323 table may hold the whole basin)."""
    rows = []
    for rec in records:
        raw_units = rec.get("units")
        var = rec.get("variable")
        raw_value = _number(rec.get("value"))
        sid = cfg.resolve(rec["station"]) if rec.get("station") is not None else None
        t = parse_time(rec.get("time"), src.naive_utc_offset_h)
        reason, qc = "", "rejected"
        if sid is None:  # a table of the whole basin: other stations are kept, not judged, not warned about
            reason, qc = f"station {rec.get('station')!r} is not configured", "ignored"
        elif src.stations is not None and sid not in src.stations:
            reason, qc = f"station {sid} is not one this feed is configured for", "ignored"
        elif var not in VARIABLE_UNITS:
            reason = "unknown observed property"
        elif t is None:
            reason = f"time {rec.get('time')!r} is not an ISO 8601 time"
        elif raw_value is None:
            reason = f"value {rec.get('value')!r} is not a number"
        elif UNIT_FACTORS.get(str(raw_units), ("", 0))[0] != var:
            reason = f"unit {raw_units!r} is not a unit of {var}"
        value = raw_value * UNIT_FACTORS[str(raw_units)][1] if not reason else None
        rows.append({"value_time": pd.Timestamp(t) if t is not None else pd.NaT,
                     "station_id": sid or str(rec.get("station")), "variable": var or "?",
                     "value": value, "units": VARIABLE_UNITS.get(var, ""), "raw_value": raw_value,
                     "raw_units": str(raw_units), "qc": qc if reason else "ok", "reason": reason,
                     "source": src.name})
    df = pd.DataFrame(rows, columns=OBS_COLUMNS)
    df["value_time"] = pd.to_datetime(df["value_time"], utc=True)
    for c in ("value", "raw_value"):
        df[c] = df[c].astype("float64")
    return df
