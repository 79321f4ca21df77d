"""Integration: the closed loop through the CLI, a real SQLite file and a real HTTP receiver.

Tier-I activation from the real preplan over the real reach → every task assigned and notified
(signed, keyed webhook + log file) → one task acknowledged, started, on site, done, verified,
closed; missed timers escalated on an injected clock; a lower flow stands tasks down; a danger
report sets off its tasks; the map layer shows them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from floodtwin.config import DATA_DIR
from floodtwin.dispatch.receiver import WebhookReceiver

SECRET = "integration-secret"
T0 = "2026-07-20T10:00:00+08:00"  # shift A on duty


def at(minutes: float) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(T0) + timedelta(minutes=minutes)).isoformat()


def write_config(tmp_path, url: str) -> str:
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = [
        {"name": "app", "kind": "webhook", "url": url, "secret_env": "FT_IT_SECRET", "timeout_s": 3},
        {"name": "log", "kind": "log", "path": "notifications.jsonl"},
    ]
    path = tmp_path / "dispatch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture()
def cli(tmp_path):
    rx = WebhookReceiver(SECRET.encode()).start()
    config = write_config(tmp_path, rx.url)
    db = str(tmp_path / "ft.sqlite")
    env = {**os.environ, "FT_IT_SECRET": SECRET, "FLOODTWIN_CONFIG": config}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "floodtwin", *args, "--db", db],
                              capture_output=True, text=True, env=env, timeout=120)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    def run_json(*args: str):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json
    run.db = db
    run.rx = rx
    yield run
    rx.stop()


@pytest.mark.slow
def test_tier_one_activation_runs_the_whole_loop(cli, tmp_path):
    rx = cli.rx
    out = cli.json("tasks", "activate", "--discharge", "16000", "--reason", "drill", "--now", T0)
    assert out["decision"]["tier"] == "I" and out["decision"]["colour"] == "red"
    assert len(out["created"]) >= 300  # the plan's "300+ task instructions" (docs/reach.md §1)
    # level I forces the emergency working mode: its routine tasks, and a notice to every leader on duty
    mode = out["mode_switch"]
    assert (mode["from"], mode["to"], mode["trigger"]) == ("normal", "emergency", "level") and mode["created"]
    created = out["created"] + mode["created"]
    assert out["delivery"]["sent"] == 2 * (len(created) + mode["notified"]) and out["delivery"]["still_pending"] == 0
    # one signed, keyed webhook per task, to its assignee; no duplicates
    dispatched = [a for a in rx.accepted if a["body"]["kind"] == "dispatched"]
    assert len(dispatched) == len(created) and rx.duplicates == [] and rx.rejected == 0
    assert {a["body"]["task"]["key"] for a in dispatched} == set(created)
    tasks = cli.json("tasks", "list", "--now", T0)
    assert all(len(t["assignees"]) == 1 and t["state"] == "dispatched" for t in tasks)

    # the same flow again: nothing new, nothing sent
    again = cli.json("tasks", "activate", "--discharge", "16000", "--now", at(1))
    assert again["created"] == [] and again["stood_down"] == [] and again["mode_switch"] is None
    assert len(rx.accepted) == len(created) + mode["notified"]

    # a grid member's dike patrol, through every state
    patrol = next(t for t in tasks if t["template_id"].startswith("patrol") and t["owner_role"] == "grid_member"
                  and t["assignees"][0].startswith("S"))
    key, member = patrol["key"], patrol["assignees"][0]
    import sqlite3

    with sqlite3.connect(cli.db) as db:
        leader = db.execute("SELECT leader_id FROM roster_grids WHERE grid_id=?", (patrol["grid_id"],)).fetchone()[0]
    bad = cli("tasks", "done", key, "--now", at(1), "--actor", member, ok=False)
    assert bad.returncode == 2 and "cannot done a task that is dispatched" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    for minutes, action in ((1, "ack"), (3, "start"), (8, "on-site"), (25, "done")):
        cli("tasks", action, key, "--now", at(minutes), "--actor", member)
    cli("tasks", "verify", key, "--now", at(27), "--actor", leader)
    closed = cli.json("tasks", "close", key, "--now", at(28), "--actor", leader)["task"]
    assert closed["state"] == "closed"

    # at +3.5 min every other task has missed its acknowledgement (and the 3-minute tasks their
    # deadline too): once the grace period has passed as well, each missed timer escalated once
    grace = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))["dispatch"]["sla"][
        "grace_min"]
    assert cli.json("tasks", "tick", "--now", at(3.5))["escalations"] == []
    ticked = cli.json("tasks", "tick", "--now", at(3.5 + grace))
    esc = ticked["escalations"]
    acks = [e for e in esc if e["timer"] == "ack"]
    assert len(acks) == len(created) - 1 and {e["timer"] for e in esc} <= {"ack", "handle"}
    assert all(e["due_at"] <= "2026-07-20T02:03:30" for e in esc)
    assert key not in {e["task_key"] for e in esc}
    member_task = next(e for e in acks if e["role"] == "grid_leader" and not any(
        x["task_key"] == e["task_key"] and x["timer"] == "handle" for x in esc))
    shown = cli.json("tasks", "show", member_task["task_key"])
    assert [a["level"] for a in shown["assignments"]] == [0, 1]
    assert shown["assignments"][1]["staff_id"] == member_task["escalated_to"]
    assert shown["events"][-1]["kind"] == "escalated"
    # one digest per person for the whole tick (not one message per task), listing every escalated task
    digests = [a["body"] for a in rx.accepted if a["body"]["kind"] == "escalated"]
    assert len(digests) == len({d["recipient"] for d in digests}) == len(ticked["digests"]) < len(acks)
    assert {e["task_key"] for d in digests for e in d["digest"]["tasks"]} == {e["task_key"] for e in acks}
    overdue = cli.json("tasks", "list", "--overdue", "--now", at(4))
    assert len(overdue) == len(created) - 1

    history = cli.json("tasks", "show", key)
    # the early "done" was refused, and the refusal logged
    assert [e["kind"] for e in history["events"]] == ["created", "dispatched", "refused", "ack", "start", "on_site",
                                                      "done", "verify", "close"]
    assert history["sla_misses"] == []

    # the flow falls: the preplan holds tier I (hysteresis, its history read from the database) ...
    hold = cli.json("tasks", "activate", "--discharge", "8000", "--now", at(60))
    assert hold["decision"]["tier"] == "I" and hold["stood_down"] == []
    # ... and once it has stayed low long enough the tier-I-only tasks are stood down, their people told
    low = cli.json("tasks", "activate", "--discharge", "8000", "--now", at(60 * 24))
    assert low["decision"]["tier"] == "III" and len(low["stood_down"]) > 0
    assert key not in low["stood_down"]  # closed tasks stay closed
    stood = Counter(a["body"]["kind"] for a in rx.accepted)["stood_down"]
    assert stood >= len(low["stood_down"])

    # the log notifier has the same messages, under the same kind of keys
    lines = (tmp_path / "notifications.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == sum(1 for a in rx.accepted)  # every message went to both notifiers
    assert all(json.loads(x)["idempotency_key"].startswith("log:") for x in lines)


def test_danger_report_push_and_map_layer(cli, tmp_path):
    rx = cli.rx
    rep = cli.json("report", "add", "--danger", "root_stone_loss", "--works", "MD", "--spur", "27",
                   "--reporter", "S200", "--photo", "/photos/md27.jpg", "--now", T0)["report"]
    assert rep["status"] == "accepted" and rep["spur_id"] == "MD-027"
    keys = rep["task_keys"]
    # the danger table's root-stone-loss response: riprap and gabions at the spur, patrols at the works
    assert [k.split(":")[0] for k in keys] == ["danger-rootstone-riprap", "danger-rootstone-patrol"]
    kinds = Counter(a["body"]["kind"] for a in rx.accepted)
    # Madu works lies outside the town's grids: the town command is told (inside a grid, its leader too)
    assert [a["body"]["recipient"] for a in rx.accepted if a["body"]["kind"] == "danger_report"] == ["TOWN"]
    assert kinds["dispatched"] == 2

    bad = cli("report", "add", "--danger", "leak", "--works", "XX", "--reporter", "S200", "--now", T0, ok=False)
    assert bad.returncode == 2 and "unknown works 'XX'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    listed = cli.json("report", "list")
    assert [r["status"] for r in listed].count("rejected") == 1

    lines = tmp_path / "reports.jsonl"
    lines.write_text(json.dumps({"id": "APP-7", "danger_kind": "piping", "chainage": "9+300", "reporter": "S031"})
                     + "\n" + json.dumps({"id": "APP-8", "danger_kind": "nonsense", "chainage": 100,
                                          "reporter": "S031"}) + "\n", encoding="utf-8")
    imp = cli("report", "import", str(lines), "--now", T0, ok=False)
    assert imp.returncode == 2 and "APP-8" in imp.stderr
    assert {r["report_id"] for r in cli.json("report", "list", "--status", "accepted")} >= {"APP-7"}

    push = cli.json("push", "--grid", "G07", "--message", "大堤封闭 dike closed", "--now", T0, "--actor", "TOWN")
    assert len(push["recipients"]) >= 1
    pushed = [a for a in rx.accepted if a["body"]["kind"] == "push"]
    assert sorted(a["body"]["recipient"] for a in pushed) == sorted(push["recipients"])

    geo = tmp_path / "layer.geojson"
    cli("tasks", "export", "--geojson", str(geo))
    doc = json.loads(geo.read_text(encoding="utf-8"))
    reports = [f for f in doc["features"] if f["properties"]["layer"] == "report"]
    tasks = [f for f in doc["features"] if f["properties"]["layer"] == "task"]
    assert {r["properties"]["danger_kind"] for r in reports} == {"root_stone_loss", "piping"}
    # the two reports' tasks: root-stone loss (riprap, patrol) and piping (filter well)
    assert len(tasks) == 3 and all(t["properties"]["colour"].startswith("#") for t in tasks)
    lon, lat = reports[0]["geometry"]["coordinates"]
    assert 113.5 < lon < 113.9 and 34.8 < lat < 35.0


def test_major_danger_report_raises_the_tier_at_once(cli):
    rx = cli.rx
    quiet = cli.json("tasks", "activate", "--discharge", "3000", "--now", T0)
    assert quiet["decision"]["tier"] == "normal"
    before = len(rx.accepted)
    out = cli.json("report", "add", "--danger", "leak", "--dike", "right", "--chainage", "8+200",
                   "--reporter", "S010", "--now", at(5))
    assert out["report"]["status"] == "accepted" and out["report"]["works_id"] == "HYK"
    plan = out["plan"]
    assert plan["reassessed"] and plan["decision"]["tier"] == "II" and plan["decision"]["trigger"] == "works_danger"
    assert plan["decision"]["observed_m3s"] == 3000 and len(plan["created"]) > 0
    # the raised tier's tasks, the emergency mode's routine tasks it forces and the report's own two tasks
    # were dispatched and delivered in the same command
    assert plan["mode_switch"]["to"] == "emergency"
    sent = [a["body"] for a in rx.accepted[before:] if a["body"]["kind"] == "dispatched"]
    assert {b["task"]["key"] for b in sent} == (set(plan["created"]) | set(plan["mode_switch"]["created"])
                                                 | set(out["report"]["task_keys"]))
    # the same report again changes nothing
    again = cli.json("report", "add", "--danger", "leak", "--dike", "right", "--chainage", "8+200",
                     "--reporter", "S010", "--now", at(5))
    assert again["report"]["duplicate"] and again["plan"] is None
