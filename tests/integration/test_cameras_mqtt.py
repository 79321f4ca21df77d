"""Camera events over a real Mosquitto broker and through the CLI (issue 20.4): an event published on
``floodtwin/cameras/<id>/event`` becomes a task on the board; a bad one is kept with its reason; a
redelivery is not stored twice; the file path gives one line per problem and exit 2."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from test_stones_mqtt import MOSQUITTO, Broker

from floodtwin import alerts
from floodtwin.cli import main
from floodtwin.db import connect
from floodtwin.dispatch.settings import load_config
from floodtwin.reports.camera_mqtt import CameraSubscriber, camera_topic
from floodtwin.reports.cameras import list_events
from floodtwin.sensors.mqtt import BrokerConfig, publish

T0 = datetime(2026, 7, 21, 2, 0, tzinfo=UTC)


def ev(event_id, camera="C07", kind="person_in_closed_zone", **over):
    return json.dumps({"event_id": event_id, "camera_id": camera, "time": (T0 - timedelta(minutes=1)).isoformat(),
                       "kind": kind, "confidence": 0.9, "snapshot": f"snap/{camera}/{event_id}.jpg", **over})


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (make test installs it)")
def test_camera_events_over_mqtt_become_tasks_and_bad_ones_are_kept(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    try:
        conn = connect(tmp_path / "ft.sqlite")
        config = load_config()
        alerts.activate_discharge(conn, 7000, now=T0 - timedelta(hours=1), actor="alerts", reason="gauge",
                                  config=config)
        cfg = BrokerConfig(host="127.0.0.1", port=broker.port, client_id="cams-test")
        sub = CameraSubscriber(conn, cfg, clock=lambda: T0, config=config)
        done = {}
        thread = threading.Thread(target=lambda: done.setdefault("s", sub.run(max_messages=4, duration_s=30)))
        thread.start()
        assert sub.ready.wait(10)
        messages = [("C07", ev("M1")), ("C07", ev("M1")), ("C07", ev("M2", confidence=7)),
                    ("C10", ev("M3", camera="C10", kind="water_at_dike_toe"))]
        publish(BrokerConfig(host="127.0.0.1", port=broker.port, client_id="cams-pub"), messages,
                topic=camera_topic)
        thread.join(30)
        s = done["s"]
        assert (s.received, s.accepted, s.duplicates, len(s.rejected)) == (4, 2, 1, 1)
        assert s.rejected[0]["source"] == "mqtt:floodtwin/cameras/C07/event" and "confidence 7" in \
            s.rejected[0]["reason"]
        keys = {r[0] for r in conn.execute("SELECT key FROM tasks WHERE source='camera'")}
        assert {k.split(":")[0] for k in keys} == {"cam-clear-floodplain", "cam-dike-toe-patrol"}
        assert [e["event_id"] for e in list_events(conn, status="accepted")] == ["M3", "M1"]
        assert s.toe_water[0]["segment_id"] == "R-003"
        conn.close()
    finally:
        broker.stop()


def run(capsys, *args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_camera_ingest_cli_makes_tasks_raises_the_level_and_says_one_line_per_problem(capsys, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    db = str(tmp_path / "ft.sqlite")
    now = "2026-07-21T10:00:00+08:00"
    code, _, err = run(capsys, "tasks", "activate", "--discharge", "5000", "--db", db, "--now", now, "--no-deliver")
    assert code == 0, err
    path = tmp_path / "events.jsonl"
    path.write_text(ev("F1", camera="C09", kind="water_at_dike_toe") + "\n" + ev("F2", camera="C42") + "\n",
                    encoding="utf-8")
    code, out, err = run(capsys, "camera", "ingest", str(path), "--db", db, "--now", now, "--no-deliver")
    assert code == 2 and err.strip().count("\n") == 0
    assert err.startswith("error: camera event F2 (events.jsonl:2) rejected: unknown camera 'C42'")
    # the water at the dike toe raised the level IV -> III by the dike-toe trigger, and sent the patrol
    assert out.startswith("tier III (yellow)") and "dike toe" in out.splitlines()[0]
    assert "F1 water_at_dike_toe camera C09 grid G21: dike_toe_patrol: task cam-dike-toe-patrol:C09" in out
    assert all(len(line) <= 100 for line in out.splitlines())
    code, out, _ = run(capsys, "camera", "list", "--status", "rejected", "--db", db, "--json")
    assert code == 0 and [r["event_id"] for r in json.loads(out)] == ["F2"]
    code, out, _ = run(capsys, "camera", "cameras")
    assert code == 0 and "C12  scenic" in out
    code, _, err = run(capsys, "camera", "ingest", "--db", db)
    assert code == 2 and "give a JSON-lines FILE or --mqtt URL" in err
