"""``floodtwin stones``: the smart-stone registry, ingest (files, MQTT), status, quarantine and simulation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from floodtwin.cli._common import DB_OPT, JSON_OPT, NOW_OPT, clock as _clock, emit as _emit

__all__ = ["app", "list_cmd", "ingest_cmd", "status_cmd", "quarantine_cmd", "simulate_cmd"]

app = typer.Typer(help="Smart stones (智能石头): registry, ingest from files or MQTT, alarm status, simulation.",
                  no_args_is_help=True)

REACH_OPT = typer.Option("huayuankou", "--reach", help="Reach whose stones layer is the registry (first use).")
THRESHOLDS_OPT = typer.Option(None, "--thresholds",
                              help="Alarm thresholds YAML (default: data/sensors/thresholds.yaml).")


def _write_text(path: Path, text: str, what: str) -> None:
    from floodtwin.errors import InputError

    try:
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None


def _open(db: Optional[Path], reach: str):
    from floodtwin.sensors.registry import ensure_registry
    from floodtwin.sensors.store import open_db

    conn = open_db(db)
    return conn, ensure_registry(conn, reach)


def _check_tls_files(ca_file: Optional[str], cert_file: Optional[str], key_file: Optional[str]) -> None:
    """The TLS files given exist and are readable PEM files (checked up front, with or without --mqtt)."""
    from floodtwin.files import require_file_to_read

    from floodtwin.errors import InputError

    for option, path in (("--ca-file", ca_file), ("--cert", cert_file), ("--key", key_file)):
        if path is not None:
            p = require_file_to_read(path, option=option)
            if b"-----BEGIN " not in p.read_bytes()[:65536]:  # TLS material comes as PEM text
                raise InputError(f"{option} {p}: not a PEM file (no -----BEGIN ... ----- block)")


def _broker(url: str, username, password, ca_file, cert_file, key_file, client_id, connect_timeout):
    import os

    from floodtwin.errors import InputError
    from floodtwin.sensors.mqtt import BrokerConfig

    if not connect_timeout > 0:
        raise InputError(f"--connect-timeout {connect_timeout:g}: must be positive (seconds)")
    password = password or os.environ.get("FLOODTWIN_MQTT_PASSWORD")
    tls = True if (ca_file or cert_file) else None
    return BrokerConfig.from_url(url, username=username, password=password, ca_file=ca_file, cert_file=cert_file,
                                 key_file=key_file, client_id=client_id, tls=tls, connect_timeout_s=connect_timeout)


MQTT_USER = typer.Option(None, "--username", help="Broker user name (or in the URL).")
MQTT_PASSWORD = typer.Option(None, "--password", help="Broker password (default $FLOODTWIN_MQTT_PASSWORD).")
MQTT_CA = typer.Option(None, "--ca-file", help="CA certificate for TLS (turns TLS on).")
MQTT_CERT = typer.Option(None, "--cert", help="Client certificate for TLS.")
MQTT_KEY = typer.Option(None, "--key", help="Client key for TLS.")
MQTT_TIMEOUT = typer.Option(30.0, "--connect-timeout",
                            help="Seconds to keep trying the first connection (refused or timed out).")


@app.command("list")
def list_cmd(works: Optional[str] = typer.Option(None, "--works", help="Only this works (HYK, SZ, MD, EDX)."),
             refresh: bool = typer.Option(False, "--refresh",
                                          help="Rebuild the registry from the reach's stones layer first."),
             db: Optional[Path] = DB_OPT, reach: str = REACH_OPT, as_json: bool = JSON_OPT) -> None:
    """List the registry: id, works, spur, install depth, baseline attitude, reporting interval."""
    if refresh:
        from floodtwin.sensors.registry import load_registry, save_registry
        from floodtwin.sensors.store import open_db

        save_registry(open_db(db), load_registry(reach))
    conn, registry = _open(db, reach)
    known = sorted({s.works_id for s in registry})
    if works is not None and works not in known:
        from floodtwin.errors import InputError

        raise InputError(f"--works {works!r}: no stones at that works (works: {', '.join(known)})")
    stones = [s for s in registry.to_records() if works is None or s["works_id"] == works]
    if as_json:
        _emit(stones)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"smart stones ({len(stones)})", header_style="bold")
    for col in ("stone", "works", "spur", "x m", "y m", "depth m", "roll°", "pitch°", "every min", "grid", "depot"):
        table.add_column(col, justify="left" if col in ("stone", "works", "spur", "grid", "depot") else "right")
    for s in stones:
        table.add_row(s["stone_id"], s["works_id"], s["spur_id"], f"{s['x_m']:.0f}", f"{s['y_m']:.0f}",
                      f"{s['install_depth_m']:.1f}",
                      f"{s['baseline_roll_deg']:.2f}", f"{s['baseline_pitch_deg']:.2f}",
                      f"{s['report_interval_min']:g}", s["grid_id"] or "", s["depot_id"] or "")
    Console().print(table)


def _print_summary(doc: dict) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    console.print(f"received {doc['received']}, accepted {doc['accepted']} (late {doc['late']}), "
                  f"already stored: {doc['already_stored']}, quarantined {doc['quarantined']}")
    for reason, n in doc["quarantined_by_reason"].items():
        if n:
            console.print(f"  quarantined {reason}: {n}")
    for r in doc["restarts"]:
        console.print(f"  {_beijing(r['time'])} (UTC+8) {r['stone_id']} counter restarted: seq {r['from_seq']} -> {r['to_seq']} "
                      f"(boot {r['boot']})")
    for e in doc["alarm_events"]:
        console.print(f"  {_beijing(e['time'])} (UTC+8) {e['stone_id']} {e['kind']}: {e['from']} -> {e['to']}")
    if doc["tasks_created"]:
        console.print(f"tasks created: {', '.join(doc['tasks_created'])}")
    for err in doc["task_errors"]:
        console.print(f"[bold red]tasks not submitted (retried with the next batch):[/] {escape(err)}")


def _ingest_file(ingestor, path: Path, now, *, show: bool):
    """Ingest a file, with a live count of the readings on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not (show and console.is_terminal):
        return ingestor.ingest_file(path, now=now)
    with Progress(SpinnerColumn(), TextColumn("{task.description}: {task.completed:,} readings"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"ingesting {path.name}", total=None)
        return ingestor.ingest_file(path, now=now, progress=lambda n: progress.update(task, completed=n))


@app.command("ingest")
def ingest_cmd(
    file: Optional[Path] = typer.Argument(None, help="JSON Lines (.jsonl/.ndjson) or CSV file of readings."),
    mqtt: Optional[str] = typer.Option(None, "--mqtt",
                                       help="Subscribe instead: mqtt://\\[user:pass@]host:port or mqtts://."),
    username: Optional[str] = MQTT_USER, password: Optional[str] = MQTT_PASSWORD,
    ca_file: Optional[str] = MQTT_CA, cert_file: Optional[str] = MQTT_CERT, key_file: Optional[str] = MQTT_KEY,
    connect_timeout: float = MQTT_TIMEOUT,
    client_id: str = typer.Option("floodtwin-sensors", "--client-id", help="MQTT client id (the persistent session)."),
    max_messages: Optional[int] = typer.Option(None, "--max-messages", help="MQTT: stop after this many messages."),
    duration: Optional[float] = typer.Option(None, "--duration", help="MQTT: stop after this many seconds."),
    idle_exit: Optional[float] = typer.Option(None, "--idle-exit", help="MQTT: stop after this many idle seconds."),
    tasks: bool = typer.Option(True, "--tasks/--no-tasks", help="Put root-stone tasks on the dispatch board."),
    db: Optional[Path] = DB_OPT, now: Optional[str] = NOW_OPT, reach: str = REACH_OPT,
    thresholds: Optional[Path] = THRESHOLDS_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Ingest readings from FILE or from an MQTT broker; print counts accepted, already stored and quarantined
    by reason, and the sequence-counter restarts (docs/sensors.md has the rules)."""
    from floodtwin.alerts import StoneAlarmAnswer
    from floodtwin.errors import InputError
    from floodtwin.sensors.alarms import load_thresholds
    from floodtwin.sensors.ingest import Ingestor

    if (file is None) == (mqtt is None):
        raise InputError("give either a FILE or --mqtt URL")
    _check_tls_files(ca_file, cert_file, key_file)
    if mqtt is not None:
        from floodtwin.files import require_number

        if max_messages is not None:
            require_number(max_messages, option="--max-messages", low=1)
        for option, value in (("--duration", duration), ("--idle-exit", idle_exit)):
            if value is not None:
                require_number(value, option=option, low=0.0, low_inclusive=False, unit="s")
    fixed = _clock(now) if now else None
    th = load_thresholds(thresholds)
    conn, registry = _open(db, reach)
    from datetime import datetime, timezone

    clock = (lambda: fixed) if fixed else (lambda: datetime.now(timezone.utc))
    ingestor = Ingestor(conn, registry=registry, thresholds=th, clock=clock)
    # the alarms' tasks go on the board after each committed batch (or sweep); --no-tasks leaves the
    # events stored and unanswered, for a later run to answer
    answer = StoneAlarmAnswer(conn, registry, actor="sensors", clock=clock) if tasks else None
    if file is not None:
        summary = _ingest_file(ingestor, file, fixed, show=not as_json)
        if answer is not None:
            answer(summary)
    else:
        from floodtwin.sensors.mqtt import Subscriber

        cfg = _broker(mqtt, username, password, ca_file, cert_file, key_file, client_id, connect_timeout)
        sub = Subscriber(ingestor, cfg, on_batch=answer)
        try:
            summary = sub.run(max_messages=max_messages, duration_s=duration, idle_exit_s=idle_exit)
        except KeyboardInterrupt:
            sub.stop()
            raise
    doc = summary.to_dict()
    if as_json:
        _emit(doc)
    else:
        _print_summary(doc)


@app.command("status")
def status_cmd(db: Optional[Path] = DB_OPT, now: Optional[str] = NOW_OPT, reach: str = REACH_OPT,
               sweep: bool = typer.Option(True, "--sweep/--no-sweep",
                                          help="Apply the clock first: silent stones go offline (or lost)."),
               thresholds: Optional[Path] = THRESHOLDS_OPT, as_json: bool = JSON_OPT) -> None:
    """Counts by alarm state per works, stones offline or on low battery, last seen, recent events."""
    from floodtwin.alerts import StoneAlarmAnswer
    from floodtwin.sensors.alarms import load_thresholds
    from floodtwin.sensors.ingest import Ingestor
    from floodtwin.sensors.status import status

    at = _clock(now)
    conn, registry = _open(db, reach)
    swept = None
    if sweep:
        summary = Ingestor(conn, registry=registry, thresholds=load_thresholds(thresholds),
                           clock=lambda: at).sweep(at)
        swept = StoneAlarmAnswer(conn, registry, actor="sensors", clock=lambda: at)(summary, at).to_dict()
    doc = status(conn, now=at)
    if swept is not None:
        doc["sweep_events"] = swept["alarm_events"]
        doc["tasks_created"] = swept["tasks_created"]
    if as_json:
        _emit(doc)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"smart stones at {at.isoformat(timespec='seconds')}", header_style="bold")
    cols = ("works", "stones", "normal", "shaking", "displaced", "lost", "offline", "low battery", "never seen",
            "last seen (UTC)")
    for c in cols:
        table.add_column(c, justify="left" if c in ("works", "last seen (UTC)") else "right")
    for w in doc["works"]:
        table.add_row(f"{w['works_id']} {w['name_zh']}", *(str(w[k]) for k in (
            "stones", "normal", "shaking", "displaced", "lost", "offline", "low_battery", "never_seen")),
            w["last_seen"] or "-")
    console.print(table)
    if doc["attention"]:
        att = Table(title="stones needing attention", header_style="bold")
        for c in ("stone", "works", "spur", "state", "since", "offline", "battery V", "last seen"):
            att.add_column(c)
        for a in doc["attention"]:
            att.add_row(a["stone_id"], a["works_id"], str(a["spur_number"]), a["state"], a["since"] or "-",
                        "yes" if a["offline"] else "", f"{a['battery_v']:.2f}" if a["battery_v"] else "-",
                        a["last_seen"] or "-")
        console.print(att)
    console.print(f"readings stored: {doc['readings']}; quarantined: "
                  + (", ".join(f"{k} {v}" for k, v in doc["quarantined"].items()) or "none")
                  + ("; `floodtwin stones quarantine` lists them" if doc["quarantined"] else ""))
    for r in doc["recent_restarts"]:
        console.print(f"counter restarted: {r['stone_id']} at {r['time']}, seq {r['from_seq']} -> {r['to_seq']}")


_UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"


def _beijing(iso: str) -> str:
    """An ISO 8601 time with a zone as Beijing wall time to the second (the zone is in the header)."""
    from datetime import datetime

    from floodtwin.sensors.store import BEIJING

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _beijing_in(text: str) -> str:
    """``text`` with its UTC times (``...Z``, as the ingest writes them) in Beijing time."""
    import re

    return re.sub(_UTC_TIME, lambda m: _beijing(m.group(0)), text)


@app.command("quarantine")
def quarantine_cmd(
    reason: Optional[str] = typer.Option(None, "--reason", help="Only this reason (malformed, unknown_stone, "
                                         "bad_time, future_time, out_of_range, duplicate, out_of_order)."),
    stone: Optional[str] = typer.Option(None, "--stone", help="Only this stone id (e.g. ST001)."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    db: Optional[Path] = DB_OPT, reach: str = REACH_OPT, as_json: bool = JSON_OPT,
) -> None:
    """List the quarantined readings with their reasons, newest first (times in Beijing time, UTC+8)."""
    from floodtwin.sensors.status import quarantined

    conn, _ = _open(db, reach)
    from floodtwin.files import require_number

    require_number(limit, option="--limit", low=1, high=1_000_000)
    doc = quarantined(conn, reason=reason, stone_id=stone, limit=limit)
    if as_json:
        _emit(doc)
        return
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    shown = len(doc["rows"])
    by_reason = ", ".join(f"{k} {v}" for k, v in doc["counts"].items())
    console.print(f"quarantined: {doc['total']}" + (f" ({by_reason})" if by_reason else "")
                  + (f"; the newest {shown} shown (--limit)" if shown < doc["total"] else ""))
    if not shown:
        return
    # readable at 100 columns: the fixed columns take about 50, "source: detail" gets the rest and wraps
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("received (UTC+8)", no_wrap=True)
    table.add_column("reason", no_wrap=True)
    table.add_column("stone", no_wrap=True, max_width=8, overflow="ellipsis")
    table.add_column("seq", justify="right", no_wrap=True, max_width=12, overflow="ellipsis")
    table.add_column("source: detail", overflow="fold", min_width=30)
    for r in doc["rows"]:
        # mqtt sources shortened to the stone's topic level; the detail's UTC times in Beijing time too
        source = r["source"].replace("mqtt:floodtwin/stones/", "mqtt:").replace("/reading", "")
        table.add_row(_beijing(r["received"]), r["reason"], escape(r["stone_id"] or "-"),
                      "-" if r["seq"] is None else str(r["seq"]), escape(f"{source}: {_beijing_in(r['detail'])}"))
    console.print(table)


@app.command("simulate")
def simulate_cmd(
    hours: float = typer.Option(24.0, "--hours", help="Hours of traffic to generate."),
    events: int = typer.Option(12, "--events",
                               help="Injected events (displacement, loss, rock, noise, outage, battery)."),
    bad: int = typer.Option(2, "--bad", help="Bad messages per quarantine reason (and late deliveries)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (the same seed gives the same traffic)."),
    start: Optional[str] = typer.Option(None, "--start", help="First reading time (default: --now minus --hours)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="JSON Lines file to write ('-' for stdout)."),
    mqtt: Optional[str] = typer.Option(None, "--mqtt", help="Publish to this broker instead: mqtt://host:port."),
    rate: Optional[float] = typer.Option(None, "--rate", help="MQTT: messages per second (default: as fast as acked)."),
    username: Optional[str] = MQTT_USER, password: Optional[str] = MQTT_PASSWORD,
    ca_file: Optional[str] = MQTT_CA, cert_file: Optional[str] = MQTT_CERT, key_file: Optional[str] = MQTT_KEY,
    connect_timeout: float = MQTT_TIMEOUT,
    truth: Optional[Path] = typer.Option(None, "--truth",
                                         help="Write what was injected and the expected alarms (JSON)."),
    now: Optional[str] = NOW_OPT, db: Optional[Path] = DB_OPT, reach: str = REACH_OPT,
    thresholds: Optional[Path] = THRESHOLDS_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Generate realistic readings of every stone (heartbeats, noise, battery drain, movements, bad messages)."""
    from datetime import timedelta

    from floodtwin.errors import InputError
    from floodtwin.sensors.alarms import load_thresholds
    from floodtwin.sensors.simulate import simulate

    if (output is None) == (mqtt is None):
        raise InputError("give either --output FILE or --mqtt URL")
    from floodtwin.files import require_file_to_write, require_number

    # a year of traffic at most (8,784 h): more is a typo, and would not fit in memory anyway
    require_number(hours, option="--hours", low=0.0, low_inclusive=False, high=8784.0, unit="h")
    require_number(events, option="--events", low=0, high=100_000)
    require_number(bad, option="--bad", low=0, high=100_000)
    require_number(seed, option="--seed", low=0)
    _check_tls_files(ca_file, cert_file, key_file)
    for option, path in (("--output", output), ("--truth", truth)):
        if path is not None and str(path) != "-":
            require_file_to_write(path, option=option, suffixes=(".jsonl", ".json", ".ndjson", ".csv"))
    for name, value in (("--events", events), ("--bad", bad)):
        if value < 0:
            raise InputError(f"{name} {value}: must not be negative")
    if rate is not None and not rate > 0:
        raise InputError(f"--rate {rate:g}: must be positive (messages per second)")
    if str(output) == "-" and as_json:
        raise InputError("-o - and --json would both write to stdout: give a file to -o")
    cfg = None
    if mqtt is not None:
        cfg = _broker(mqtt, username, password, ca_file, cert_file, key_file, "floodtwin-simulator", connect_timeout)
    th = load_thresholds(thresholds)
    _, registry = _open(db, reach)
    t0 = _clock(start, "--start") if start else _clock(now) - timedelta(hours=hours)
    try:
        sim = simulate(registry, th, start=t0, hours=hours, events=events, bad=bad, seed=seed)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if truth is not None:  # first: a truth that cannot be written stops the run before anything is sent
        _write_text(truth, json.dumps(sim.truth(), ensure_ascii=False, indent=1), "simulation truth")
    if cfg is not None:
        from floodtwin.sensors.mqtt import publish

        publish(cfg, sim.messages, client_id="floodtwin-simulator", rate_per_s=rate)
    elif str(output) == "-":
        for _, payload in sim.messages:
            typer.echo(payload)
    else:
        _write_text(output, "".join(payload.replace("\n", " ") + "\n" for _, payload in sim.messages),
                    "simulated readings")
    doc = {"messages": len(sim.messages), "valid_readings": sim.valid, "late": sim.late,
           "redelivered": sim.redelivered, "quarantine": sim.quarantine, "restarts": sim.restarts,
           "injected": sim.injected, "start": sim.start.isoformat(), "end": sim.end.isoformat()}
    if as_json:
        _emit(doc)
    elif str(output) != "-":
        from rich.console import Console

        Console(highlight=False).print(
            f"{len(sim.messages)} messages ({sim.valid} valid readings, {sum(sim.quarantine.values())} bad, "
            f"{sim.late} late, {sim.redelivered} redelivered) from {sim.start.isoformat()} to {sim.end.isoformat()} -> "
            f"{output if cfg is None else f'mqtt {cfg.host}:{cfg.port}'}")
