"""One scheduled alert run: fetch -> check -> forecast -> level decision -> preplan diff ->
activation or stand-down -> SLA tick -> notifications -> run record; unattended and safe.

Safety rules the run keeps (docs/alert-runs.md):

- **never act on bad data**: every value goes through the quality rules (floodtwin.feeds.quality);
  rejected values are stored with their reason and never used;
- **stale or missing never lowers the level**: when Huayuankou's value is stale or a fall-back,
  the run may raise the level on it but never lowers it; with no value at all the level stays
  where it was; either way the duty officer gets a "data stale" notice (again every
  ``stale_notice_every_h`` while it lasts);
- **never duplicate work**: one run at a time (:class:`~floodtwin.alerts.lock.RunLock`); a run on
  the same inputs as the last finished one changes nothing on the board; the board's submissions
  are idempotent by task key and each change is one transaction, so a run killed anywhere and run
  again adds no task and no notification twice; CAP messages are stored before their files are
  written, and the files are (re)written from the store;
- **never go silent**: every run leaves a record (``alert_runs``: inputs with their flags,
  decision, reason, counts, duration, status) and its exit code says how it went: 0 ok, 1 ran
  with warnings (stale data, a feed down, values rejected, another run holding the lock), 2 bad
  configuration, 3 failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from floodtwin.alerts import activate_discharge, finish_alert_run, last_decision, start_alert_run
from floodtwin.alerts.cap import cap_message, identifier_for, msg_type_for, village_areas, write_text_atomic
from floodtwin.alerts.lock import RunLock, RunLocked
from floodtwin.alerts.settings import AlertsConfig
from floodtwin.alerts.store import ensure_alert_schema, get_state, load_history, set_state, store_observations
from floodtwin.db import connect, parse_ts, transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board import log_event, tick_report
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import load_config
from floodtwin.errors import ConfigError, FloodtwinError, StaleDataError
from floodtwin.feeds import (FeedResult, StationStatus, check_observations, read_feeds, require_fresh,
                             station_status)
from floodtwin.feeds.quality import ALREADY_REJECTED
from floodtwin.preplan import Preplan, ReachTables

__all__ = ["EXIT_OK", "EXIT_WARNINGS", "EXIT_CONFIG", "EXIT_FAILED", "STALE_NOTICE_KIND", "RunOutcome",
           "RunContext", "run_alert", "flow_inputs", "choose_level"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_WARNINGS, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3
#: the message kind of the "data stale" notice: dispatch's kinds have none of its own yet, so it goes
#: as a message pushed to one person (the duty officer); see docs/alert-runs.md
STALE_NOTICE_KIND = "push"

#: a function giving the ids of the floodplain villages flooded at a discharge (m³/s): the 1D quick
#: answer of floodtwin.scenario, handed in by the caller (scenario is an orchestrator of the same floor)
FloodedVillages = Callable[[float], list[str]]


@dataclass
class RunOutcome:
    """What one run did; ``exit_code`` by the module's rules, ``message`` its one line."""

    exit_code: int
    message: str
    run_id: int | None = None
    status: str = "ok"
    decision: dict[str, Any] | None = None
    deciding: str | None = None
    observed_m3s: float | None = None
    forecast_m3s: float | None = None
    forecast_2d_m3s: float | None = None
    warnings: list[str] = field(default_factory=list)
    #: what each feed gave (rows by quality flag, its error) and each station's value, age and flags
    inputs: dict[str, Any] = field(default_factory=dict)
    stations: dict[str, Any] = field(default_factory=dict)
    created: int = 0
    stood_down: int = 0
    escalated: int = 0
    notifications: int = 0
    cap: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    changed: bool = False
    #: the working-mode switch the level forced (dispatch.modes: from, to, trigger, its routine tasks), if any
    mode_switch: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class RunContext:
    """What a run needs that does not change between runs of one process (the watch loop and the
    replay keep it): the dispatch configuration, the preplan, the reach tables and roster, the
    routing, the villages layer, and the flooded-villages function."""

    cfg: AlertsConfig
    dispatch: Any = None
    plan: Any = None
    tables: Any = None
    roster: Any = None
    routing: Any = None
    villages: list[dict[str, Any]] | None = None
    flooded_villages: FloodedVillages | None = None

    def load(self) -> "RunContext":
        """Load what is not loaded yet (ConfigError / DataError name the bad file)."""
        from floodtwin.dispatch.roster import Roster

        for src in self.cfg.feeds.sources:  # a token the environment lacks is a configuration error (exit 2)
            if src.auth is not None:
                src.auth.value()
        if self.dispatch is None:
            self.dispatch = load_config(self.cfg.dispatch_config)
        if self.plan is None:
            self.plan = Preplan.load(self.cfg.preplan)
        if self.tables is None:
            self.tables = ReachTables.read("huayuankou")
        if self.roster is None:
            self.roster = Roster.from_tables(self.tables)
        if self.routing is None and self.cfg.forecast.enabled:
            from floodtwin.forecast import default_routing

            daily = self.cfg.forecast.daily_file
            self.routing = default_routing(str(daily) if daily is not None else None)
        if self.villages is None and self.cfg.cap.enabled:
            from floodtwin.reach.gpkg import read_layers
            from floodtwin.reach.load import reach_paths

            self.villages = read_layers(reach_paths("huayuankou")[0], ["villages"])["villages"]
        return self


def _value_near(history: pd.DataFrame, station_id: str, when: datetime, tol_h: float = 6.0) -> float | None:
    """The stored good discharge of ``station_id`` nearest to ``when`` (within ``tol_h``), or None."""
    h = history[(history["station_id"] == station_id) & (history["variable"] == "discharge")
                & (history["qc"] == "ok")]
    if h.empty:
        return None
    d = (h["value_time"] - pd.Timestamp(when)).abs()
    i = d.idxmin()
    return float(h.loc[i, "value"]) if d[i] <= pd.Timedelta(hours=tol_h) else None


def flow_inputs(statuses: dict[str, StationStatus], history: pd.DataFrame, ctx: RunContext,
                now: datetime) -> tuple[float | None, float | None, float | None, list[str]]:
    """(observed, one-day forecast, two-day forecast, warnings) at Huayuankou from the stations'
    statuses [m³/s]. The forecast needs a fresh value at every upstream station (a stale one would
    route an old flow as today's): otherwise it is left out and said so."""
    from floodtwin.forecast import forecast_next

    cfg = ctx.cfg
    target = statuses[cfg.feeds.target.id]
    observed = target.value
    warnings: list[str] = []
    if ctx.routing is None or observed is None:
        return observed, None, None, warnings
    ups = [s for s in cfg.feeds.stations if s.role == "upstream"]
    upstream, too_old = 0.0, []
    for s in ups:
        try:
            upstream += require_fresh(statuses[s.id], max_age_h=cfg.forecast.upstream_max_age_h)
        except StaleDataError as exc:
            too_old.append(str(exc))
    if too_old:
        warnings.append(f"no forecast: {'; '.join(too_old)}")
        return observed, None, None, warnings
    yesterday = [_value_near(history, s.id, statuses[s.id].time - timedelta(days=1)) for s in ups]
    up_y = sum(yesterday) if all(v is not None for v in yesterday) else None
    f1, f2 = forecast_next(observed, upstream, up_y, ctx.routing)
    return observed, max(f1, 0.0), max(f2, 0.0), warnings


def choose_level(observed: float | None, forecast: float | None) -> str | None:
    """Which value decides the level: the higher of observed and forecast ("observed" on a tie)."""
    if observed is None and forecast is None:
        return None
    if forecast is not None and (observed is None or forecast > observed):
        return "forecast"
    return "observed"


def _inputs_key(statuses: dict[str, StationStatus]) -> str:
    doc = {k: (s.value, s.time.isoformat() if s.time else None) for k, s in sorted(statuses.items())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _stale_notice(conn: Any, ctx: RunContext, problems: list[str], now: datetime) -> int:
    """Queue the "data stale" notice to the duty officer unless one went out less than
    ``stale_notice_every_h`` ago (inside a transaction). Returns the outbox rows written."""
    last = get_state(conn, "stale_notice_at")
    if last is not None and now - parse_ts(last) < timedelta(hours=ctx.cfg.stale_notice_every_h):
        return 0
    duty = ctx.cfg.duty_officer or ctx.dispatch.dispatch.town_command.id
    text_en = "; ".join(problems[:4])
    event_id = log_event(conn, now=now, actor=ctx.cfg.actor, kind="data_stale",
                         reason=f"hydrology data stale or missing: {text_en}"[:500], data={"problems": problems[:20]})
    payload = {"at": ts(now), "subject_zh": "水情数据过时或缺失", "subject_en": "Hydrology data stale or missing",
               "text_zh": f"水情数据过时或缺失，响应级别不会因此降低，请核实：{text_en}",
               "text_en": f"Hydrology data stale or missing; the level will not be lowered on it. Check: {text_en}",
               "notice": "data_stale", "problems": problems[:20]}
    n = notify.enqueue(conn, ctx.dispatch, kind=STALE_NOTICE_KIND, event_id=event_id, recipients=[duty],
                       payload=payload, now=now)
    set_state(conn, "stale_notice_at", ts(now))
    return n


def _write_cap(conn: Any, ctx: RunContext, decision: Any, deciding: str, run_id: int) -> list[str]:
    """Store the CAP message of a level change (if the level changed since the last message), then
    write the files of every stored message without one; returns the identifiers written."""
    cap = ctx.cfg.cap
    last = conn.execute("SELECT identifier, sent, tier FROM cap_messages ORDER BY sent DESC, rowid DESC "
                        "LIMIT 1").fetchone()
    msg_type = msg_type_for(last["tier"] if last else None, decision.tier)
    if msg_type is not None:
        sent = decision.time
        ident = identifier_for(cap.sender, sent, decision.tier, msg_type)
        refs = f"{cap.sender},{last['identifier']},{last['sent']}" if last and msg_type != "Alert" else None
        flooded = ctx.flooded_villages(decision.discharge_m3s) if (ctx.flooded_villages and msg_type != "Cancel") \
            else []
        areas = village_areas(ctx.villages or [], flooded, radius_m=cap.village_radius_m,
                              discharge_m3s=decision.discharge_m3s)
        names = {t.id: (t.name_zh, t.name_en, t.colour_zh) for t in ctx.plan.tiers}
        from floodtwin.alerts.cap import cap_time

        xml = cap_message(identifier=ident, sender=cap.sender, sender_name=cap.sender_name, sent=sent,
                          status=cap.status, msg_type=msg_type, references=refs, decision=decision.to_dict(),
                          tier_names=names, areas=areas, deciding=deciding, expires_h=cap.expires_h)
        with transaction(conn):
            conn.execute("INSERT OR IGNORE INTO cap_messages(identifier, sent, msg_type, tier, colour, references_,"
                         " run_id, xml) VALUES (?,?,?,?,?,?,?,?)",
                         (ident, cap_time(sent), msg_type, decision.tier, decision.colour, refs or "", run_id, xml))
    return _write_cap_pending(conn, ctx)


def _mark_crashed_runs(conn: Any, now: datetime) -> int:
    """Runs still "running" when the lock was free: their process died. Recorded as such."""
    with transaction(conn):
        cur = conn.execute("UPDATE alert_runs SET status = 'crashed', finished_at = ? WHERE status = 'running'",
                           (ts(now),))
    return cur.rowcount


def run_alert(cfg: AlertsConfig, *, now: datetime, ctx: RunContext | None = None,
              fetched: list[FeedResult] | None = None) -> RunOutcome:
    """One alert run at ``now`` (see the module docstring); ``fetched`` replaces the fetch (a
    replay's day of the bulletin). Never raises for what the run meets: a problem is the outcome's
    exit code and message, and a record in the database."""
    started = time.monotonic()
    ctx = ctx or RunContext(cfg)
    try:
        ctx.load()
    except FloodtwinError as exc:
        code = EXIT_CONFIG if isinstance(exc, ConfigError) or exc.exit_code == 2 else EXIT_FAILED
        return RunOutcome(code, str(exc), status="config" if code == EXIT_CONFIG else "failed")
    try:
        with RunLock(cfg.lock_file) as lock:
            return _run_locked(cfg, ctx, now, fetched, lock, started)
    except RunLocked as exc:
        return RunOutcome(EXIT_WARNINGS, str(exc), status="skipped")
    except FloodtwinError as exc:
        code = EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILED
        return RunOutcome(code, str(exc), status="failed", duration_s=time.monotonic() - started)


def _run_locked(cfg: AlertsConfig, ctx: RunContext, now: datetime, fetched: list[FeedResult] | None,
                lock: RunLock, started: float) -> RunOutcome:
    conn = connect(cfg.database)
    out = RunOutcome(EXIT_OK, "")
    try:
        ensure_schema(conn)
        ensure_alert_schema(conn)
        if lock.taken_over is not None:
            n = _mark_crashed_runs(conn, now)
            out.warnings.append(f"took over the lock of a run that died (pid {lock.taken_over.get('pid')}); "
                                f"{n} run record(s) marked crashed")
        out.run_id = start_alert_run(conn, now=now, reason="scheduled alert run")
        try:
            _pipeline(conn, ctx, now, fetched, out)
            out.status = "warnings" if out.warnings else "ok"
            out.exit_code = EXIT_WARNINGS if out.warnings else EXIT_OK
        except FloodtwinError as exc:
            out.status, out.exit_code = "failed", EXIT_FAILED
            out.message = f"alert run failed: {exc}"
            log.error("%s", out.message)
        except Exception as exc:  # noqa: BLE001 - a bug must still end in a record and exit 3, not silence
            out.status, out.exit_code = "failed", EXIT_FAILED
            out.message = (f"alert run failed (a bug in floodtwin, please report it): {type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:200]}")
            log.exception("alert run %s failed", out.run_id)
        out.duration_s = round(time.monotonic() - started, 3)
        if not out.message:
            out.message = _summary_line(out)
        finish_alert_run(conn, out.run_id, now=now, status=out.status,
                         tier=(out.decision or {}).get("tier"), summary=out.to_dict())
        return out
    finally:
        conn.close()


def _summary_line(out: RunOutcome) -> str:
    d = out.decision or {}
    level = f"level {d.get('tier')} ({d.get('colour')})" if d else "no level decided"
    by = f" on the {out.deciding} value" if out.deciding else ""
    flows = ", ".join(f"{k} {v:,.0f} m³/s" for k, v in (("observed", out.observed_m3s),
                                                        ("forecast +1 d", out.forecast_m3s)) if v is not None)
    head = f"{level}{by}" + (f" ({flows})" if flows else "")
    counts = f"{out.created} task(s) created, {out.stood_down} stood down, {out.escalated} escalated"
    if out.mode_switch and out.mode_switch.get("switched"):
        counts += f"; working mode {out.mode_switch['from']} -> {out.mode_switch['to']}"
    warn = f"; {len(out.warnings)} warning(s): {out.warnings[0]}" if out.warnings else ""
    return f"{head}; {counts}{warn}"


def _pipeline(conn: Any, ctx: RunContext, now: datetime, fetched: list[FeedResult] | None, out: RunOutcome) -> None:
    cfg = ctx.cfg
    # 1. fetch (each source alone: one feed down never stops the others)
    results = fetched if fetched is not None else read_feeds(cfg.feeds)
    for r in results:
        if r.error:
            out.warnings.append(r.error)
    obs = pd.concat([r.observations for r in results if len(r.observations)], ignore_index=True) \
        if any(len(r.observations) for r in results) else results[0].observations if results else None
    # 2. check against the stored history; store everything received, with its flag
    history = load_history(conn, now=now)
    from floodtwin.feeds import empty_observations

    checked = check_observations(obs if obs is not None else empty_observations(), history, now=now, cfg=cfg.feeds)
    with transaction(conn):
        store_observations(conn, checked, run_id=out.run_id, now=now)
        for r in results:
            if r.error:
                conn.execute("INSERT INTO feed_errors(run_id, at, source, error, body) VALUES (?,?,?,?,?)",
                             (out.run_id, ts(now), r.source, r.error, r.raw[:100_000] if r.raw else None))
    rejected = checked[(checked["qc"] == "rejected") & ~checked["reason"].str.startswith(ALREADY_REJECTED)]
    for row in rejected.head(5).itertuples():
        out.warnings.append(f"rejected {row.station_id} {row.variable} from {row.source}: {row.reason}")
    statuses = station_status(checked, history, now=now, cfg=cfg.feeds)
    out.stations = {k: s.to_dict() for k, s in statuses.items()}
    out.inputs = {r.source: {"pages": r.pages, "error": r.error,
                             "rows": {str(k): int(v) for k, v in checked[checked["source"] == r.source]["qc"]
                                      .value_counts().items()}} for r in results}
    target = statuses[cfg.feeds.target.id]
    stale = [f"{sid}: {p}" for sid, s in statuses.items() for p in s.problems
             if p.startswith(("stale", "fall-back", "no good"))]
    target_unreliable = target.stale or target.fallback or target.value is None
    # 3. forecast
    known = pd.concat([history, checked[checked["qc"] == "ok"]], ignore_index=True) if len(history) else checked
    observed, f1, f2, fwarn = flow_inputs(statuses, known, ctx, now)
    out.warnings.extend(fwarn)
    out.observed_m3s, out.forecast_m3s, out.forecast_2d_m3s = observed, f1, f2
    if stale:
        out.warnings.extend(stale)
        with transaction(conn):
            out.notifications += _stale_notice(conn, ctx, stale, now)
    # 4-6. level decision, preplan diff, activation or stand-down
    previous = last_decision(conn)
    key = _inputs_key(statuses)
    same_inputs = get_state(conn, "last_inputs") == key and previous is not None
    out.deciding = choose_level(observed, f1)
    if out.deciding is None:
        out.decision = previous.to_dict() if previous else None
        out.warnings.append("no discharge at Huayuankou received or stored: the level stays "
                            f"{previous.tier if previous else 'undecided'} (missing data is not all-clear)")
    elif same_inputs:
        out.decision = previous.to_dict()
        log.info("same inputs as the last run: nothing to change on the board")
    else:
        decision = ctx.plan.evaluate(_state(conn, ctx, observed, f1, now, previous))
        if target_unreliable and previous is not None and decision.rank < previous.rank:
            out.decision = previous.to_dict()
            out.warnings.append(f"level held at {previous.tier}: Huayuankou data stale or a fall-back "
                                f"(would be {decision.tier}); stale data never lowers the level")
        else:
            reason = (f"alert run: {out.deciding} {decision.discharge_m3s:,.0f} m3/s at Huayuankou"
                      + (" (stale or fall-back value)" if target_unreliable else ""))
            decision, act = activate_discharge(conn, observed, forecast_m3s=f1, now=now, actor=cfg.actor,
                                               reason=reason, preplan=ctx.plan, reach=ctx.tables,
                                               config=ctx.dispatch, roster=ctx.roster)
            out.decision = decision.to_dict()
            # the level's tasks and the routine tasks of the working mode it forces (level IV and above:
            # emergency) are both on the board: both count
            mode = act.mode_switch or {}
            out.mode_switch = act.mode_switch
            out.created = len(act.created) + len(mode.get("created", []))
            out.stood_down = len(act.stood_down) + len(mode.get("stood_down", []))
            out.changed = (bool(act.created or act.stood_down or mode.get("switched")) or previous is None
                           or previous.tier != decision.tier)
            if cfg.cap.enabled:
                out.cap = _write_cap(conn, ctx, decision, out.deciding, out.run_id)
        if not target_unreliable:
            with transaction(conn):
                set_state(conn, "last_inputs", key)
    if cfg.cap.enabled and not out.cap:
        out.cap = _write_cap_pending(conn, ctx)
    # 7. SLA tick
    tick = tick_report(conn, now=now, actor=cfg.actor, config=ctx.dispatch, roster=ctx.roster)
    out.escalated = len(tick.escalations)
    # 8. notifications
    if cfg.deliver:
        report = notify.deliver(conn, ctx.dispatch, now=now)
        out.notifications += report.sent
        if report.dead or report.retrying:
            out.warnings.append(f"notifications: {report.retrying} to retry, {report.dead} failed for good")


def _write_cap_pending(conn: Any, ctx: RunContext) -> list[str]:
    """Files of CAP messages a killed run stored but did not write."""
    written = []
    for row in conn.execute("SELECT identifier, xml FROM cap_messages WHERE file IS NULL ORDER BY sent").fetchall():
        path = Path(ctx.cfg.cap.folder) / f"{row['identifier']}.xml"
        write_text_atomic(path, row["xml"])
        with transaction(conn):
            conn.execute("UPDATE cap_messages SET file = ? WHERE identifier = ?", (str(path), row["identifier"]))
        written.append(row["identifier"])
    return written


def _state(conn: Any, ctx: RunContext, observed: float | None, forecast: float | None, now: datetime,
           previous: Any) -> Any:
    from floodtwin.alerts import works_dangers
    from floodtwin.preplan import FlowState

    return FlowState(observed_m3s=observed, forecast_m3s=forecast, time=now, previous=previous,
                     dangers=works_dangers(conn, ctx.plan))
