"""The ``floodtwin stones`` commands end to end: list, simulate -> ingest -> status, errors."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from floodtwin.cli import app
from floodtwin.sensors.registry import load_registry
from floodtwin.sensors.simulate import compare_alarms

NOW = "2026-07-22T08:00:00+08:00"


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "ft.sqlite")

    def run(*args):
        result = runner.invoke(app, list(args) + ["--db", db], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_list_shows_the_registry(cli):
    stones = json.loads(cli("stones", "list", "--json"))
    assert len(stones) == 249 and stones[0]["stone_id"] == "ST001"
    md = json.loads(cli("stones", "list", "--works", "MD", "--json"))
    assert md and {s["works_id"] for s in md} == {"MD"}
    table = cli("stones", "list", "--works", "SZ")
    assert "ST" in table and "SZ" in table
    refreshed = json.loads(cli("stones", "list", "--refresh", "--json"))
    assert refreshed == stones


def test_simulate_ingest_status_round_trip(cli, tmp_path):
    sim_path, truth_path = tmp_path / "sim.jsonl", tmp_path / "truth.json"
    sent = json.loads(cli("stones", "simulate", "--hours", "24", "--events", "12", "--bad", "2", "--seed", "4",
                          "--now", NOW, "-o", str(sim_path), "--truth", str(truth_path), "--json"))
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    assert sent["valid_readings"] == truth["valid_readings"]
    assert len(sim_path.read_text().splitlines()) == sent["messages"]
    doc = json.loads(cli("stones", "ingest", str(sim_path), "--now", NOW, "--json"))
    assert doc["accepted"] == truth["valid_readings"]
    assert doc["quarantined_by_reason"] == truth["quarantine"]
    assert doc["late"] == truth["late"] and doc["already_stored"] == truth["redelivered"] == 2
    assert [(r["stone_id"], r["from_seq"], r["to_seq"]) for r in doc["restarts"]] == [
        (r["stone_id"], r["from_seq"], r["to_seq"]) for r in truth["restarts"]]
    assert compare_alarms(truth["expected"], doc["alarm_events"]) == []
    majors = [i for i in truth["injected"] if i["kind"] in ("displacement", "loss", "restart")]
    assert any(i["kind"] == "restart" for i in majors)  # a restarted stone alarms like the others
    # the danger table's root-stone-loss response: riprap and gabions per spur, intensified patrols per works
    stones = load_registry("huayuankou")
    spurs = {stones[i["stone_id"]].spur_id for i in majors}
    works = {stones[i["stone_id"]].works_id for i in majors}
    assert len(doc["tasks_created"]) == len(spurs) + len(works), doc["tasks_created"]
    status = json.loads(cli("stones", "status", "--now", NOW, "--json"))
    assert sum(w["stones"] for w in status["works"]) == 249
    assert sum(w["displaced"] + w["lost"] for w in status["works"]) == len(majors)
    assert status["readings"] == truth["valid_readings"]
    assert status["quarantined"] == {k: v for k, v in truth["quarantine"].items() if v}
    assert status["sweep_events"] == []  # everything reported within three intervals of NOW
    # later, with no new readings, the clock makes every stone silent: offline or (after a movement) lost
    later = json.loads(cli("stones", "status", "--now", "2026-07-22T12:00:00+08:00", "--json"))
    assert sum(w["offline"] for w in later["works"]) == 249 - sum(w["lost"] + w["displaced"] for w in later["works"])
    assert all(w["displaced"] == 0 for w in later["works"])
    text = cli("stones", "status", "--now", "2026-07-22T12:00:00+08:00", "--no-sweep")
    assert "HYK" in text and "readings stored" in text
    # the same file again: every reading is already stored, only the bad messages are quarantined (again)
    again = json.loads(cli("stones", "ingest", str(sim_path), "--now", NOW, "--json"))
    assert again["accepted"] == 0 and again["restarts"] == [] and again["alarm_events"] == []
    assert again["already_stored"] == truth["valid_readings"] + truth["redelivered"]
    assert again["quarantined_by_reason"] == truth["quarantine"]
    text = cli("stones", "ingest", str(sim_path), "--now", NOW)
    assert f"already stored: {truth['valid_readings'] + truth['redelivered']}, quarantined 14" in text, text


def test_errors_are_one_red_line_and_an_exit_code(tmp_path):
    db = tmp_path / "ft.sqlite"
    env = {**os.environ, "FLOODTWIN_DB": str(db)}
    CliRunner().invoke(app, ["stones", "list", "--json"], env=env, catch_exceptions=False)  # registry stored once
    (tmp_path / "h.csv").write_text("stone_id,time\nST001,2026-07-21T10:00:00Z\n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    nowhere = str(tmp_path / "no" / "such" / "dir")
    (tmp_path / "no").write_text("a file, not a folder", encoding="utf-8")
    sim = ["stones", "simulate", "--hours", "6", "--events", "0", "--bad", "1", "--now", NOW]
    cases = [
        (["stones", "ingest", str(tmp_path / "missing.jsonl")], 2, "missing.jsonl: file not found"),
        (["stones", "ingest", str(tmp_path)], 2, "is a directory"),
        (["stones", "ingest", str(tmp_path / "h.csv")], 2, "h.csv:1: CSV header: missing column 'seq'"),
        (["stones", "ingest"], 2, "give either a FILE or --mqtt URL"),
        (["stones", "ingest", "--mqtt", "http://x"], 2, "expected mqtt://host:port"),
        (["stones", "ingest", "--mqtt", "mqtt://127.0.0.1:99999"], 2, "invalid port"),
        (["stones", "ingest", "--mqtt", f"mqtt://127.0.0.1:{closed}", "--connect-timeout", "1"], 4,
         f"mqtt 127.0.0.1:{closed}: no connection after 1 s: connection refused"),
        (["stones", "ingest", "--mqtt", "mqtts://127.0.0.1:8883", "--ca-file", str(tmp_path / "ca.pem")], 2,
         "ca.pem: file not found"),
        (["stones", "ingest", "--mqtt", "mqtt://127.0.0.1:1883", "--connect-timeout", "0"], 2,
         "--connect-timeout 0: must be positive"),
        (["stones", "status", "--now", "noon"], 2, "--now 'noon'"),
        (["stones", "list", "--works", "XYZ"], 2, "--works 'XYZ': no stones at that works (works: EDX, HYK, MD, SZ)"),
        (sim + ["-o", f"{nowhere}/sim.jsonl"], 2, "sim.jsonl: folder "),
        (sim + ["-o", str(tmp_path / "s.jsonl"), "--truth", f"{nowhere}/t.json"], 2,
         "t.json: folder "),
        (sim + ["-o", str(tmp_path / "s.jsonl"), "--start", "yesterday"], 2, "--start 'yesterday'"),
        (sim + ["-o", str(tmp_path / "s.jsonl"), "--events", "-1"], 2, "--events -1: expected >= 0"),
        (["stones", "simulate", "--hours", "2", "--events", "0", "-o", str(tmp_path / "s.jsonl")], 2,
         "bad messages need at least 6 readings of a stone"),
        (sim + ["--mqtt", f"mqtt://127.0.0.1:{closed}", "--connect-timeout", "1"], 4, "connection refused"),
        (sim + ["-o", "-", "--json"], 2, "both write to stdout"),
    ]
    procs = [(args, code, message, subprocess.Popen([sys.executable, "-m", "floodtwin", *args], env=env,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
             for args, code, message in cases]
    for args, code, message, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == code, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], (args, err)
        assert "Traceback" not in err
    # nothing was written where it could not be, and a truth that could not be written sent nothing
    assert not (tmp_path / "s.jsonl").exists()


def test_garbage_lines_are_kept_in_quarantine_and_counted(cli, tmp_path):
    path = tmp_path / "junk.jsonl"
    junk = ["%PDF-1.4 binary junk", "{\"stone_id\": \"ST001\"", "null", "[]", "{}", "   ", "\"ST001,2026\""]
    path.write_text("\n".join(junk) + "\n", encoding="utf-8")
    doc = json.loads(cli("stones", "ingest", str(path), "--now", NOW, "--json"))
    assert (doc["received"], doc["accepted"], doc["quarantined"]) == (6, 0, 6)  # the blank line is no message
    assert doc["quarantined_by_reason"]["malformed"] == 6
    status = json.loads(cli("stones", "status", "--now", NOW, "--json", "--no-sweep"))
    assert status["quarantined"] == {"malformed": 6} and status["readings"] == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "ft.sqlite") as conn:
        rows = conn.execute("SELECT source, raw FROM quarantine ORDER BY id").fetchall()
    assert [r[1] for r in rows] == [j for j in junk if j.strip()]
    assert rows[0][0] == "junk.jsonl:1" and rows[-1][0] == "junk.jsonl:7"


def test_quarantine_lists_the_rejected_readings_with_their_reasons(cli, tmp_path):
    sim_path = tmp_path / "sim.jsonl"
    sent = json.loads(cli("stones", "simulate", "--hours", "6", "--events", "0", "--bad", "1", "--now", NOW,
                          "-o", str(sim_path), "--json"))
    cli("stones", "ingest", str(sim_path), "--now", NOW, "--json", "--no-tasks")
    doc = json.loads(cli("stones", "quarantine", "--json"))
    assert doc["total"] == sum(sent["quarantine"].values()) == 7 and doc["counts"] == sent["quarantine"]
    lines = sim_path.read_text(encoding="utf-8").splitlines()
    for row in doc["rows"]:  # each row names the line it came from, and keeps it as it was received
        assert row["raw"] == lines[int(row["source"].split(":")[1]) - 1]
        assert row["received"] == "2026-07-22T08:00:00+08:00"
    dup = json.loads(cli("stones", "quarantine", "--reason", "duplicate", "--json"))
    assert [r["reason"] for r in dup["rows"]] == ["duplicate"] and "different values" in dup["rows"][0]["detail"]
    stone = dup["rows"][0]["stone_id"]
    mine = json.loads(cli("stones", "quarantine", "--stone", stone, "--json"))
    assert mine["rows"] and {r["stone_id"] for r in mine["rows"]} == {stone}
    assert json.loads(cli("stones", "quarantine", "--stone", "ST999", "--reason", "duplicate", "--json"))["total"] == 0
    one = json.loads(cli("stones", "quarantine", "--limit", "1", "--json"))
    assert len(one["rows"]) == 1 and one["rows"][0]["id"] == max(r["id"] for r in doc["rows"])  # newest first
    # the table fits 100 columns; Beijing times, the zone in the header
    env = {**os.environ, "COLUMNS": "100", "FLOODTWIN_DB": str(tmp_path / "ft.sqlite")}
    out = subprocess.run([sys.executable, "-m", "floodtwin", "stones", "quarantine"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 100
    assert "received (UTC+8)" in out.stdout and "2026-07-22 08:00:00" in out.stdout
    # the detail's UTC times (as stored) are shown in UTC+8 as well
    assert "out_of_order" in out.stdout and not re.search(r"\d\d:\d\d:\d\d(\.\d+)?Z", out.stdout), out.stdout
    bad = subprocess.run([sys.executable, "-m", "floodtwin", "stones", "quarantine", "--reason", "dup"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --reason 'dup': not a quarantine reason")
