"""The state of the smart-stone network: counts by alarm state per works, offline stones,
low batteries, last seen, the recent alarm events and counter restarts, and the quarantined
readings with their reasons (plain dicts; the CLI renders them)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.errors import InputError
from floodtwin.sensors.alarms import STATES
from floodtwin.sensors.readings import REASONS
from floodtwin.sensors.store import ms_to_beijing, ms_to_iso

__all__ = ["status", "quarantined"]


def status(conn: sqlite3.Connection, *, now: datetime | None = None, events: int = 20) -> dict[str, Any]:
    """Per works: stones by state, offline, low battery, never heard from, last seen (UTC);
    the stones in alarm or offline; the last ``events`` alarm events; quarantine counts."""
    works: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        "SELECT s.stone_id, s.works_id, s.works_name_en, s.works_name_zh, s.spur_number, st.state, st.since_ms, "
        "st.offline, st.low_battery, st.last_t_ms, st.battery_v FROM stones s "
        "LEFT JOIN stone_state st ON st.stone_id = s.stone_id ORDER BY s.stone_no").fetchall()
    attention = []
    for r in rows:
        w = works.setdefault(r["works_id"], {
            "works_id": r["works_id"], "name_en": r["works_name_en"], "name_zh": r["works_name_zh"],
            "stones": 0, **{s: 0 for s in STATES}, "offline": 0, "low_battery": 0, "never_seen": 0,
            "last_seen": None})
        w["stones"] += 1
        state = r["state"] or "normal"
        w[state] += 1
        w["offline"] += int(bool(r["offline"]))
        w["low_battery"] += int(bool(r["low_battery"]))
        if r["last_t_ms"] is None:
            w["never_seen"] += 1
        elif w["last_seen"] is None or r["last_t_ms"] > w["last_seen"]:
            w["last_seen"] = r["last_t_ms"]
        if state != "normal" or r["offline"] or r["low_battery"]:
            attention.append({"stone_id": r["stone_id"], "works_id": r["works_id"], "spur_number": r["spur_number"],
                              "state": state, "since": ms_to_iso(r["since_ms"]), "offline": bool(r["offline"]),
                              "low_battery": bool(r["low_battery"]), "battery_v": r["battery_v"],
                              "last_seen": ms_to_iso(r["last_t_ms"])})
    for w in works.values():
        w["last_seen"] = ms_to_iso(w["last_seen"])
    recent = [{"stone_id": e[0], "time": ms_to_iso(e[1]), "kind": e[2], "from": e[3], "to": e[4]}
              for e in conn.execute("SELECT stone_id, t_ms, kind, from_state, to_state FROM alarm_events "
                                    "WHERE retracted_ms IS NULL ORDER BY t_ms DESC, id DESC LIMIT ?", (events,))]
    quarantine = {r[0]: r[1] for r in conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason")}
    readings = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    restarts = [{"stone_id": r[0], "boot": r[1], "time": ms_to_iso(r[2]), "from_seq": r[3], "to_seq": r[4]}
                for r in conn.execute("SELECT stone_id, boot, t_ms, from_seq, to_seq FROM seq_restarts "
                                      "ORDER BY t_ms DESC, id DESC LIMIT ?", (events,))]
    return {"now": now.isoformat() if now else None, "works": list(works.values()), "attention": attention,
            "recent_events": recent, "recent_restarts": restarts, "readings": readings, "quarantined": quarantine}


def quarantined(conn: sqlite3.Connection, *, reason: str | None = None, stone_id: str | None = None,
                limit: int = 50) -> dict[str, Any]:
    """The quarantined readings, newest first: ``total`` matching ``reason`` and ``stone_id`` (None:
    any), ``counts`` of those by reason, and the first ``limit`` as ``rows`` (id, received in
    Beijing time with its offset, source, reason, stone_id, seq, detail, raw). InputError for an
    unknown reason or a limit below 1."""
    if reason is not None and reason not in REASONS:
        raise InputError(f"--reason {reason!r}: not a quarantine reason (reasons: {', '.join(REASONS)})")
    if limit < 1:
        raise InputError(f"--limit {limit}: must be at least 1")
    where, args = [], []
    if reason is not None:
        where.append("reason = ?")
        args.append(reason)
    if stone_id is not None:
        where.append("stone_id = ?")
        args.append(stone_id)
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    counts = {r[0]: r[1] for r in conn.execute(f"SELECT reason, count(*) FROM quarantine{cond} GROUP BY reason",
                                               args)}
    rows = [{"id": r[0], "received": ms_to_beijing(r[1]), "source": r[2], "reason": r[3], "stone_id": r[4],
             "seq": r[5], "detail": r[6], "raw": r[7]}
            for r in conn.execute("SELECT id, received_ms, source, reason, stone_id, seq, detail, raw FROM quarantine"
                                  f"{cond} ORDER BY id DESC LIMIT ?", args + [limit])]
    return {"total": sum(counts.values()), "counts": {r: counts[r] for r in REASONS if r in counts}, "rows": rows}
