"""The ``floodtwin stones`` commands end to end: list, simulate -> ingest -> status, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from floodtwin.cli import app
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
    assert doc["late"] == truth["late"]
    assert compare_alarms(truth["expected"], doc["alarm_events"]) == []
    majors = [i for i in truth["injected"] if i["kind"] in ("displacement", "loss")]
    assert len(doc["tasks_created"]) >= 2 * len(majors)  # materials + emergency per spur, patrol per works
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
    again = json.loads(cli("stones", "ingest", str(sim_path), "--now", NOW, "--json"))
    assert again["accepted"] == 0 and again["quarantined_by_reason"]["duplicate"] >= truth["valid_readings"]


def test_errors_are_one_red_line_and_an_exit_code(tmp_path):
    env = {**os.environ, "FLOODTWIN_DB": str(tmp_path / "ft.sqlite")}
    for args, message in [
        (["stones", "ingest", str(tmp_path / "missing.jsonl")], "missing.jsonl: file not found"),
        (["stones", "ingest"], "give either a FILE or --mqtt URL"),
        (["stones", "ingest", "--mqtt", "http://x"], "expected mqtt://host:port"),
        (["stones", "status", "--now", "noon"], "--now 'noon'"),
    ]:
        proc = subprocess.run([sys.executable, "-m", "floodtwin", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
