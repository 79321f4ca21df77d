"""Replay of a past season: the daily bulletin fed through the alert run day by day, on a
simulated clock, for drills and as an end-to-end test on real data.

Each day at 08:05 Beijing time the run "receives" the bulletin's 08:00 values of the last three
days (as a live feed would still serve them), checks them, forecasts, decides the level, updates
the board of a database of its own (a temporary one unless given) and writes its CAP messages.
The timeline has one row per day: flow, forecast, which value decided, level, tasks activated and
stood down.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from floodtwin.alerts.run import FloodedVillages, RunContext, run_alert
from floodtwin.alerts.settings import AlertsConfig, CapSettings
from floodtwin.errors import DataError, InputError
from floodtwin.feeds import FeedResult, FeedsConfig, SourceSpec, StationSpec, normalise

__all__ = ["BULLETIN_STATIONS", "bulletin_feeds", "replay_config", "replay"]

#: the four stations of the routing as the bulletin names them (pinyin = name_en); codes: the SL 323
#: code of Huayuankou is the gauges layer's; the others are the bulletin's names (docs/feeds.md)
BULLETIN_STATIONS = [
    StationSpec(id="HYK", stcd="40105150", name_zh="花园口", name_en="Huayuankou", role="target",
                min_discharge_m3s=50.0),
    StationSpec(id="XLD", stcd="40104450", name_zh="小浪底", name_en="Xiaolangdi", role="upstream"),
    StationSpec(id="HSG", stcd="41602500", name_zh="黑石关", name_en="Heishiguan", role="upstream"),
    StationSpec(id="WZ", stcd="41802500", name_zh="武陟", name_en="Wuzhi", role="upstream"),
]
LOCAL = timezone(timedelta(hours=8))


def bulletin_feeds(path: Path) -> FeedsConfig:
    """The feed configuration of a replay: the four stations, the bulletin file as a plain CSV."""
    return FeedsConfig(stations=BULLETIN_STATIONS,
                       sources=[SourceSpec(name="yrcc-bulletin", format="csv", path=path)])


def replay_config(path: Path, workdir: Path, *, dispatch_config: Path | None = None,
                  preplan: Path | None = None, cap: bool = True) -> AlertsConfig:
    """An alert configuration for replaying ``path`` in ``workdir`` (database, lock, CAP folder)."""
    return AlertsConfig(database=workdir / "replay.sqlite", dispatch_config=dispatch_config, preplan=preplan,
                        lock_file=workdir / "replay.sqlite.lock", feeds=bulletin_feeds(path),
                        cap=CapSettings(enabled=cap, folder=workdir / "cap", status="Exercise"))


def _read_bulletin(path: Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise DataError(f"{path}: bulletin file not found")
    try:
        df = pd.read_csv(path, usecols=["date", "station", "stage_m", "discharge_m3s"], dtype={"date": str})
    except ValueError as exc:
        raise DataError(f"{path}: not the daily bulletin CSV (date, station, stage_m, discharge_m3s): {exc}") from None
    names = {s.name_en for s in BULLETIN_STATIONS}
    return df[df["station"].isin(names)]


def replay(path: str | Path, start: date, end: date, *, workdir: str | Path | None = None,
           dispatch_config: Path | None = None, preplan: Path | None = None,
           flooded_villages: FloodedVillages | None = None, cap: bool = True,
           on_day: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Replay the bulletin ``path`` from ``start`` to ``end`` (dates, inclusive); the timeline.
    ``workdir`` keeps the database and CAP files (default: a temporary folder, removed after)."""
    if end < start:
        raise InputError(f"replay: --to {end} is before --from {start}")
    path = Path(path)
    bulletin = _read_bulletin(path)
    days = sorted(d for d in bulletin["date"].unique() if start.isoformat() <= d <= end.isoformat())
    if not days:
        raise InputError(f"replay: {path} has no day between {start} and {end}")
    tmp = tempfile.TemporaryDirectory(prefix="floodtwin-replay-") if workdir is None else None
    work = Path(tmp.name if tmp else workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        cfg = replay_config(path, work, dispatch_config=dispatch_config, preplan=preplan, cap=cap)
        ctx = RunContext(cfg, flooded_villages=flooded_villages)
        src = cfg.feeds.sources[0]
        timeline = []
        for day in days:
            d = date.fromisoformat(day)
            now = datetime.combine(d, dtime(8, 5), LOCAL)
            window = bulletin[(bulletin["date"] >= (d - timedelta(days=2)).isoformat()) & (bulletin["date"] <= day)]
            records = [{"station": r.station, "time": f"{r.date}T08:00:00", "variable": var, "value": val,
                        "units": "m3/s" if var == "discharge" else "m"}
                       for r in window.itertuples() for var, val in (("discharge", r.discharge_m3s),
                                                                   ("stage", r.stage_m)) if pd.notna(val)]
            fetched = [FeedResult(src.name, normalise(records, src, cfg.feeds), pages=1)]
            out = run_alert(cfg, now=now, ctx=ctx, fetched=fetched)
            dec = out.decision or {}
            row = {"date": day, "observed_m3s": out.observed_m3s, "forecast_m3s": out.forecast_m3s,
                   "deciding": out.deciding, "tier": dec.get("tier"), "colour": dec.get("colour"),
                   "trigger": dec.get("trigger"), "created": out.created, "stood_down": out.stood_down,
                   "cap": out.cap, "exit_code": out.exit_code, "message": out.message}
            timeline.append(row)
            if on_day is not None:
                on_day(row)
            if out.exit_code >= 2:
                raise DataError(f"replay stopped on {day}: {out.message}")
        return timeline
    finally:
        if tmp is not None:
            tmp.cleanup()
