"""``floodtwin alert-run``, ``floodtwin watch``, ``floodtwin replay`` and ``floodtwin forecast skill``:
the scheduled run against the live feeds, its loop, a past season replayed, the forecast's skill.

Exit codes of ``alert-run`` (and of the last run of ``watch``): 0 ok, 1 ran with warnings (stale
data, a feed down, values rejected, another run holding the lock), 2 bad configuration, 3 failed.
docs/alert-runs.md has the cron line and the systemd timer.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional

import typer

from floodtwin.cli._common import JSON_OPT, NOW_OPT, clock, emit, esc, say

__all__ = ["register", "forecast_app", "quick_flooded_villages", "parse_every"]

forecast_app = typer.Typer(help="The Huayuankou routing forecast: its skill on held-out years.", no_args_is_help=True)

CONFIG_REQ = typer.Option(..., "--config", help="Alert-run YAML (see data/config/alerts.example.yaml).")


@functools.lru_cache(maxsize=64)
def _flooded_at(bucket_m3s: int) -> tuple[str, ...]:
    from floodtwin.scenario import run_scenario

    result = run_scenario(float(bucket_m3s))
    return tuple(result.flooded_villages["village_id"].tolist())


def quick_flooded_villages(discharge_m3s: float) -> list[str]:
    """Village ids the 1D quick answer (floodtwin.scenario, not the full 2D run) floods at
    ``discharge_m3s``, rounded up to the next 100 m³/s (one model run per 100 m³/s per process)."""
    bucket = int(-(-discharge_m3s // 100) * 100)
    return list(_flooded_at(max(bucket, 100)))


def _print_outcome(out: Any, as_json: bool) -> None:
    """The run's line on stdout (green ok, yellow warnings) and its first warnings; a run that could
    not run (bad configuration, failed) is one red line on stderr, as every error of the CLI."""
    from floodtwin.cli import fail

    if as_json:
        emit(out.to_dict())
        return
    if out.exit_code >= 2:
        fail(out.message, out.exit_code)
    colour = {0: "green", 1: "yellow"}.get(out.exit_code, "red")
    if out.status == "skipped":
        say(f"[{colour}]{esc(out.message)}[/]")
        return
    d = out.decision or {}
    level = f"level {d['tier']} ({d['colour']})" if d else "no level decided"
    by = f", decided on {out.deciding}" if out.deciding else ""
    fc = (f"forecast {out.forecast_m3s:,.0f} (+1 d) / {out.forecast_2d_m3s:,.0f} (+2 d)"
          if out.forecast_m3s is not None else "no forecast")
    obs = f"HYK {out.observed_m3s:,.0f} m³/s" if out.observed_m3s is not None else "HYK no value"
    say(f"[bold {colour}]{esc(level)}[/]{esc(by)}: {obs}, {fc}")
    say(f"tasks: {out.created} created, {out.stood_down} stood down, {out.escalated} escalated; "
        f"notifications: {out.notifications}; run {out.run_id} in {out.duration_s:.1f} s")
    for w in out.warnings[:6]:
        say(f"  [yellow]warning:[/] {esc(w)}")
    if len(out.warnings) > 6:
        say(f"  … {len(out.warnings) - 6} more warning(s) in the run record (--json)")
    for ident in out.cap:
        say(f"  CAP message {esc(ident)}")


def _context(config: Path) -> Any:
    """The run context of ``config`` (read and validated: a ConfigError is the CLI's red line, exit 2)."""
    from floodtwin.alerts.run import RunContext
    from floodtwin.alerts.settings import load_alerts_config
    from floodtwin.files import require_file_to_read

    cfg = load_alerts_config(require_file_to_read(config, option="--config"))
    return RunContext(cfg, flooded_villages=quick_flooded_villages if cfg.cap.enabled else None)


def _run_once(ctx: Any, now: Optional[str], as_json: bool) -> int:
    from floodtwin.alerts.run import run_alert

    out = run_alert(ctx.cfg, now=clock(now), ctx=ctx)
    _print_outcome(out, as_json)
    return out.exit_code


def alert_run_cmd(config: Path = CONFIG_REQ, now: Optional[str] = NOW_OPT, as_json: bool = JSON_OPT) -> None:
    """One alert run: fetch the feeds, check them, forecast, decide the level, update the board, tell people."""
    raise typer.Exit(_run_once(_context(config), now, as_json))


def parse_every(text: str) -> float:
    """``10m``, ``90s``, ``1h`` (or plain seconds) as seconds; InputError otherwise."""
    from floodtwin.errors import InputError

    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise InputError(f"--every {text!r}: expected a duration such as 10m, 90s or 1h") from None
    if value < 1:
        raise InputError(f"--every {text!r}: at least 1 s")
    return value


def watch_cmd(config: Path = CONFIG_REQ,
              every: str = typer.Option("10m", "--every", help="Time between runs (10m, 90s, 1h)."),
              max_runs: Optional[int] = typer.Option(None, "--max-runs", help="Stop after this many runs."),
              as_json: bool = JSON_OPT) -> None:
    """Run the alert run every --every until SIGTERM or Ctrl-C; a run in progress finishes first."""
    import signal
    import threading
    import time

    from floodtwin.files import require_number

    period_s = parse_every(every)
    if max_runs is not None:
        require_number(max_runs, option="--max-runs", low=1)
    ctx = _context(config)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runs, code = 0, 0
    while not stop.is_set():
        started = time.monotonic()
        code = _run_once(ctx, None, as_json)
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        stop.wait(max(0.0, period_s - (time.monotonic() - started)))
    if not as_json:
        say(f"watch stopped after {runs} run(s)")
    raise typer.Exit(0)


def replay_cmd(path: Path = typer.Argument(..., help="Daily bulletin CSV (data/yrcc/daily_lower_river_2001_2019.csv)."),
               start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD."),
               end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD."),
               out: Optional[Path] = typer.Option(None, "--out", help="Keep the database and CAP files in this folder "
                                                  "(default: a temporary one)."),
               no_cap: bool = typer.Option(False, "--no-cap", help="Write no CAP messages (no 1D runs)."),
               as_json: bool = JSON_OPT) -> None:
    """Feed a past season through the alert run day by day and print the timeline."""
    from datetime import date

    from floodtwin.alerts.replay import replay
    from floodtwin.errors import InputError
    from floodtwin.files import require_file_to_read, require_folder_to_write

    path = require_file_to_read(path, option="bulletin")

    days = []
    for opt, text in (("--from", start), ("--to", end)):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise InputError(f"{opt} {text!r}: expected a date YYYY-MM-DD") from None
    if out is not None:
        out, _ = require_folder_to_write(out, option="--out")
    if not as_json:
        say(f"[bold]{'date':<11}{'observed':>10}{'forecast':>10}  {'by':<9}{'level':<8}{'created':>8}"
            f"{'stood down':>11}  CAP[/]")

    def show(row: dict[str, Any]) -> None:
        if as_json:
            return
        q = f"{row['observed_m3s']:,.0f}" if row["observed_m3s"] is not None else "-"
        f = f"{row['forecast_m3s']:,.0f}" if row["forecast_m3s"] is not None else "-"
        cap = ", ".join(c.rsplit(".", 1)[-1] for c in row["cap"])
        say(f"{row['date']:<11}{q:>10}{f:>10}  {row['deciding'] or '-':<9}{row['tier'] or '-':<8}"
            f"{row['created']:>8}{row['stood_down']:>11}  {cap}")

    timeline = replay(path, days[0], days[1], workdir=out, cap=not no_cap,
                      flooded_villages=None if no_cap else quick_flooded_villages, on_day=show)
    if as_json:
        emit(timeline)


@forecast_app.command("skill")
def skill_cmd(daily: Optional[Path] = typer.Option(None, "--daily",
                                                   help="Daily bulletin CSV (default: the shipped one)."),
              as_json: bool = JSON_OPT) -> None:
    """Fit the routing on 2001–2014 and score it on 2015–2019 (held out): NSE and level-IV days."""
    from floodtwin.files import require_file_to_read
    from floodtwin.forecast import fit_routing, load_daily, skill

    df = load_daily(require_file_to_read(daily, option="--daily") if daily is not None else None)
    routing = fit_routing(df)
    s = skill(df, routing)
    if as_json:
        emit(s)
        return
    r = s["routing"]
    say(f"[bold]Muskingum routing[/] Xiaolangdi + Heishiguan + Wuzhi → Huayuankou, 1-day lag: K = {r['k_d']:.2f} d, "
        f"X = {r['x']:.2f}, gain = {r['gain']:.3f} (fitted {r['fit_years'][0]}–{r['fit_years'][-1]})")
    say(f"held-out years {s['years'][0]}–{s['years'][-1]}, {s['days']} days; level IV = 4,000 m³/s")
    say(f"{'lead':<6}{'NSE':>7}{'persist.':>10}{'hits':>6}{'misses':>8}{'false al.':>11}   persistence h/m/f")
    for lead in (1, 2):
        d = s[f"lead_{lead}d"]
        t, p = d["level_iv"], d["level_iv_persistence"]
        say(f"{lead} d{'':<3}{d['nse']:>7.3f}{d['nse_persistence']:>10.3f}{t['hits']:>6}{t['misses']:>8}"
            f"{t['false_alarms']:>11}   {p['hits']}/{p['misses']}/{p['false_alarms']}")


def register(root: typer.Typer) -> None:
    """Add alert-run, watch, replay and the forecast group to the root app."""
    from floodtwin.cli._common import db_guard

    root.command("alert-run")(db_guard(alert_run_cmd))
    root.command("watch")(db_guard(watch_cmd))
    root.command("replay")(db_guard(replay_cmd))
    root.add_typer(forecast_app, name="forecast")
