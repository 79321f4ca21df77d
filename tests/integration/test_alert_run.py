"""The alert run end to end against a real HTTP server on 127.0.0.1: each feed format, each fault,
the exit codes, the board after, idempotency and the run lock. The CLI runs in-process
(``floodtwin.cli.main``), on a real SQLite database and the shipped dispatch file's log notifier."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from feed_server import (XML_BOMB, FeedServer, plain_csv, sensorthings_pages, series, sl323_csv, sl323_json,
                         waterml2)

REPO = Path(__file__).resolve().parents[2]
LOCAL = timezone(timedelta(hours=8))
NOW = datetime(2026, 7, 20, 8, 5, tzinfo=LOCAL)
#: Huayuankou at level IV (4,200 m³/s) after three days' rise; the upstream stations route to about that
FLOWS = {"40105150": [3300.0, 3800.0, 4200.0], "40104450": [3600.0, 4000.0, 4100.0],
         "41602500": [60.0, 70.0, 80.0], "41802500": [5.0, 5.0, 6.0]}


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        yield srv


def write_config(tmp: Path, sources: list[dict], **extra) -> Path:
    shutil.copy(REPO / "data" / "config" / "dispatch.yaml", tmp / "dispatch.yaml")
    cfg = yaml.safe_load((REPO / "data" / "config" / "alerts.example.yaml").read_text(encoding="utf-8"))
    cfg["feeds"]["sources"] = sources
    cfg["cap"]["enabled"] = False
    cfg.update(extra)
    path = tmp / "alerts.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def run_cli(config: Path, now: datetime, capsys) -> tuple[int, dict]:
    from floodtwin.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["alert-run", "--config", str(config), "--now", now.isoformat(), "--json"])
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


def board(tmp: Path, *, version: bool = False) -> list[tuple]:
    """The tasks and their states (with ``version``: every change, SLA escalations included)."""
    con = sqlite3.connect(tmp / "floodtwin.sqlite")
    try:
        cols = "key, state, version" if version else "key, state"
        return con.execute(f"SELECT {cols} FROM tasks ORDER BY key").fetchall()
    finally:
        con.close()


def query(tmp: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(tmp / "floodtwin.sqlite")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def source(name: str, fmt: str, url: str, **kw) -> dict:
    return {"name": name, "format": fmt, "url": url, "timeout_s": 0.5, "retries": 1, "backoff_s": 0.05, **kw}


@pytest.mark.parametrize("fmt", ["sl323_csv", "sl323_json", "waterml2", "sensorthings", "csv"])
def test_each_format_raises_level_iv(fmt, server, tmp_path, capsys):
    rows = series(NOW, FLOWS)
    path = f"/{fmt}/{tmp_path.name}"
    if fmt == "sensorthings":
        path += "?$top=3"
        for p, body in sensorthings_pages(rows, server, path).items():
            server.routes[p] = {"body": body}
    else:
        body = {"sl323_csv": sl323_csv, "sl323_json": sl323_json, "waterml2": waterml2, "csv": plain_csv}[fmt](rows)
        server.routes[path] = {"body": body}
    cfg = write_config(tmp_path, [source("main", fmt, server.url(path))])
    code, out = run_cli(cfg, NOW, capsys)
    assert code == 0, out["message"]
    assert out["decision"]["tier"] == "IV" and out["observed_m3s"] == 4200.0
    assert out["deciding"] in ("observed", "forecast") and out["forecast_m3s"] is not None
    assert out["created"] > 50 and len(board(tmp_path)) == out["created"]
    assert server.headers[path]["User-Agent"].startswith("floodtwin-alert-run")
    if fmt == "sensorthings":  # 12 observations, 3 a page: the run followed @iot.nextLink to the end
        assert sum(1 for p in server.hits if p.startswith(path)) == 4
    stored = query(tmp_path, "SELECT COUNT(*), SUM(qc = 'ok') FROM feed_observations")[0]
    assert stored == (12, 12)
    # the same data again: nothing changes on the board, nothing is sent twice
    before, outbox = board(tmp_path, version=True), query(tmp_path, "SELECT COUNT(*) FROM outbox")
    code2, out2 = run_cli(cfg, NOW + timedelta(minutes=2), capsys)  # before any SLA timer runs out
    assert code2 == 0 and out2["created"] == 0 and out2["stood_down"] == 0
    assert board(tmp_path, version=True) == before and query(tmp_path, "SELECT COUNT(*) FROM outbox") == outbox


FAULTS = {
    "http_500": ({"status": 500, "body": b"internal error"}, "HTTP 500"),
    "hang": ({"delay_s": 1.5, "body": b"STCD,TM,Z,Q\n"}, "timed out"),
    "truncated": ({"truncate": True}, "truncated"),
    "garbage": ({"body": b"\x89PNG\r\n\x1a\n\x00\x00garbage\xff\xfe"}, "not UTF-8"),
    "xml_bomb": ({"body": XML_BOMB}, "XML refused"),
    "stale": (None, "stale"),
    "spike": (None, "spike"),
    "wrong_units": (None, "unit"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_warns_and_keeps_the_board(fault, server, tmp_path, capsys):
    """A good run puts level IV on the board; the fault run an hour later ends with exit 1, a clear
    message, the board unchanged, what was received stored with its flag, and the duty officer told."""
    fmt = "waterml2" if fault == "xml_bomb" else "sl323_csv"
    path = f"/fault/{fault}/{tmp_path.name}"
    good = series(NOW, FLOWS)
    server.routes[path] = {"body": (waterml2 if fmt == "waterml2" else sl323_csv)(good)}
    cfg = write_config(tmp_path, [source("main", fmt, server.url(path))])
    code, out = run_cli(cfg, NOW, capsys)
    assert code == 0 and out["decision"]["tier"] == "IV", out["message"]
    before = board(tmp_path)

    later = NOW + timedelta(hours=1)
    spec, words = FAULTS[fault]
    if fault == "stale":  # the feed still serves yesterday's series: 40 h later nothing is new
        later = NOW + timedelta(hours=40)
    elif fault == "spike":  # 4,200 -> 15,000 m³/s in an hour (level I if believed)
        server.routes[path] = {"body": sl323_csv(good + [("40105150", later.replace(minute=0), 15000.0)])}
    elif fault == "wrong_units":  # the feed switched to 1,000 m³/s: 3.6 means 3,600 (normal if believed)
        server.routes[path] = {"body": sl323_csv(good + [("40105150", later.replace(minute=0), 3.6)])}
    elif fault == "truncated":  # the connection closes half-way through the body
        server.routes[path] = {"body": sl323_csv(good)[:150], "truncate": True}
    else:
        server.routes[path] = spec
    code, out = run_cli(cfg, later, capsys)
    assert code == 1, out["message"]
    assert words in out["message"] + " ".join(out["warnings"]), out
    assert out["decision"]["tier"] == "IV"  # never lowered (nor raised) on bad or stale data
    assert board(tmp_path) == before
    runs = query(tmp_path, "SELECT status FROM alert_runs ORDER BY id")
    assert runs == [("ok",), ("warnings",)]
    if fault in ("spike", "wrong_units"):
        flagged = query(tmp_path, "SELECT value, qc, reason FROM feed_observations WHERE qc = 'rejected'")
        assert len(flagged) == 1 and flagged[0][2].startswith(fault.split("_")[-1][:4])
        # the run record keeps the inputs with their flags and the held decision
        summary = json.loads(query(tmp_path, "SELECT summary FROM alert_runs ORDER BY id DESC LIMIT 1")[0][0])
        assert summary["inputs"]["main"]["rows"]["rejected"] == 1
        assert summary["stations"]["HYK"]["value"] == 4200.0 and summary["decision"]["tier"] == "IV"
        # the feed keeps serving the bad value: it stays rejected, is never used, and is not warned twice
        code, out = run_cli(cfg, later + timedelta(minutes=10), capsys)
        assert code == 0 and out["observed_m3s"] == 4200.0 and out["decision"]["tier"] == "IV", out["message"]
        assert board(tmp_path) == before
    elif fault != "stale":
        errors = query(tmp_path, "SELECT source, error FROM feed_errors")
        assert len(errors) == 1 and words in errors[0][1]
    if fault != "spike" and fault != "wrong_units":
        notice = query(tmp_path, "SELECT recipient, payload FROM outbox WHERE kind = 'push'")
        assert [r[0] for r in notice] == ["TOWN"] and "stale" in json.loads(notice[0][1])["text_en"]


def test_bad_config_exits_2_with_one_line_naming_file_and_key(tmp_path, capsys):
    from floodtwin.cli import main

    cfg = write_config(tmp_path, [{"name": "x", "format": "sl323_csv", "url": "ftp://nowhere"}])
    with pytest.raises(SystemExit) as exc:
        main(["alert-run", "--config", str(cfg), "--now", NOW.isoformat()])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1
    assert "alerts.yaml:" in err[0] and "feeds.sources.0" in err[0] and "ftp://nowhere" in err[0]
    assert not (tmp_path / "floodtwin.sqlite").exists()  # nothing ran


def test_a_second_run_while_the_first_holds_the_lock_does_nothing(server, tmp_path, capsys):
    from floodtwin.alerts.lock import RunLock

    path = f"/lock/{tmp_path.name}"
    server.routes[path] = {"body": sl323_csv(series(NOW, FLOWS))}
    cfg = write_config(tmp_path, [source("main", "sl323_csv", server.url(path))])
    with RunLock(tmp_path / "floodtwin.sqlite.lock"):
        code, out = run_cli(cfg, NOW, capsys)
    assert code == 1 and "another alert run holds" in out["message"]
    assert not (tmp_path / "floodtwin.sqlite").exists() or board(tmp_path) == []
    code, out = run_cli(cfg, NOW, capsys)  # released: the next run goes ahead
    assert code == 0 and out["decision"]["tier"] == "IV"


def test_auth_token_missing_from_the_environment_is_a_configuration_error(server, tmp_path, capsys, monkeypatch):
    from floodtwin.cli import main

    monkeypatch.delenv("FT_ALERT_TOKEN", raising=False)
    path = f"/auth/{tmp_path.name}"
    server.routes[path] = {"body": sl323_csv(series(NOW, FLOWS))}
    cfg = write_config(tmp_path, [source("main", "sl323_csv", server.url(path),
                                         auth={"name": "Authorization", "env": "FT_ALERT_TOKEN"})])
    with pytest.raises(SystemExit) as exc:
        main(["alert-run", "--config", str(cfg), "--now", NOW.isoformat()])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "FT_ALERT_TOKEN is not set" in err[0]
    assert path not in server.hits


def test_cap_alert_update_cancel_follow_the_level(server, tmp_path):
    """IV (Alert), then III (Update referencing it), then back under 3,800 m³/s: held for the 6 h,
    then normal in one step (Cancel referencing the Update); every file valid CAP 1.2, none twice."""
    from lxml import etree

    from floodtwin.alerts.run import RunContext, run_alert
    from floodtwin.alerts.settings import load_alerts_config

    xsd = etree.XMLSchema(etree.parse(str(REPO / "tests" / "fixtures" / "cap" / "CAP-v1.2.xsd")))
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    path = f"/cap/{tmp_path.name}"
    cfg_path = write_config(tmp_path, [source("main", "sl323_csv", server.url(path))])
    doc = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    doc["cap"]["enabled"] = True
    cfg_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cfg = load_alerts_config(cfg_path)
    ctx = RunContext(cfg, flooded_villages=lambda q: [])
    rows = series(NOW, FLOWS)
    # rises and falls within the plausible 400 m³/s per hour (faster would be rejected as a spike)
    steps = [(0, 4200.0, "IV", "Alert"), (8, 7000.0, "III", "Update"), (9, 7100.0, "III", None),
             (20, 3000.0, "III", None), (27, 2900.0, "normal", "Cancel"), (28, 2800.0, "normal", None)]
    for h, q, tier, kind in steps:
        t = NOW + timedelta(hours=h)
        if h:
            hour = t.replace(minute=0)
            rows += [("40105150", hour, q), ("40104450", hour, q * 0.97), ("41602500", hour, 80.0),
                     ("41802500", hour, 6.0)]
        server.routes[path] = {"body": sl323_csv(rows)}
        out = run_alert(cfg, now=t, ctx=ctx)
        assert out.decision["tier"] == tier, (h, out.message)
        assert [c.rsplit(".", 1)[-1] for c in out.cap] == ([kind] if kind else []), (h, out.cap)
    files = sorted((tmp_path / "cap").glob("*.xml"), key=lambda f: f.stat().st_mtime_ns)
    docs = [etree.parse(str(f)) for f in files]
    for d in docs:
        xsd.assertValid(d)
    kinds = [d.findtext("c:msgType", namespaces=ns) for d in docs]
    assert kinds == ["Alert", "Update", "Cancel"]
    ids = [d.findtext("c:identifier", namespaces=ns) for d in docs]
    assert docs[1].findtext("c:references", namespaces=ns).split(",")[1] == ids[0]
    assert docs[2].findtext("c:references", namespaces=ns).split(",")[1] == ids[1]
    severity = [d.findtext("c:info/c:severity", namespaces=ns) for d in docs]
    assert severity == ["Moderate", "Severe", "Minor"]


def test_a_bug_inside_the_run_is_recorded_and_exits_3(server, tmp_path, capsys, monkeypatch):
    import floodtwin.alerts.run as run

    path = f"/bug/{tmp_path.name}"
    server.routes[path] = {"body": sl323_csv(series(NOW, FLOWS))}
    cfg = write_config(tmp_path, [source("main", "sl323_csv", server.url(path))])

    def broken(*args, **kwargs):
        raise ZeroDivisionError("probe")

    monkeypatch.setattr(run, "choose_level", broken)
    code, out = run_cli(cfg, NOW, capsys)
    assert code == 3 and "ZeroDivisionError: probe" in out["message"]
    assert query(tmp_path, "SELECT status FROM alert_runs") == [("failed",)]
    assert board(tmp_path) == []
