"""Smart stones over a real Mosquitto broker: round trip to a task on the board, persistent
session, broker restart mid-stream with nothing lost or stored twice, credentials, TLS, CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from floodtwin.errors import FeedError
from floodtwin.sensors.alarms import load_thresholds
from floodtwin.sensors.ingest import Ingestor
from floodtwin.sensors.mqtt import BrokerConfig, Subscriber, publish
from floodtwin.sensors.registry import load_registry
from floodtwin.sensors.simulate import simulate
from floodtwin.sensors.store import open_db

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (make test installs it)")

NOW = datetime(2026, 7, 21, 12, 0, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto on a free loopback port with its own config, persistence and log in ``root``."""

    def __init__(self, root: Path, extra: str = ""):
        self.root = root
        self.port = free_port()
        self.conf = root / "mosquitto.conf"
        # running as root, mosquitto would switch to the 'mosquitto' user and lose access to root/
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"{user}listener {self.port} 127.0.0.1\n{extra or 'allow_anonymous true'}\n"
            f"persistence true\npersistence_location {root}/\nmax_queued_messages 0\n"
            f"log_dest file {root}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n"
            f"log_type information\nlog_type subscribe\n", encoding="utf-8")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.root / 'mosquitto.log').read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        # SIGTERM: mosquitto saves its persistence file (queued QoS 1 messages, sessions) on the way out
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def config(self, **kw) -> BrokerConfig:
        return BrokerConfig(port=self.port, reconnect_min_s=0.1, reconnect_max_s=0.5, connect_timeout_s=10, **kw)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def registry():
    return load_registry("huayuankou")


@pytest.fixture(scope="module")
def th():
    return load_thresholds()


class Running:
    """A Subscriber on its own thread; ``stop()`` returns its summary."""

    def __init__(self, sub: Subscriber):
        self.sub = sub
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        # publish only once subscribed: a broker drops what nobody has subscribed to yet
        assert sub.ready.wait(20) or self.error, "the subscriber did not subscribe"

    def _run(self):
        try:
            self.result = self.sub.run()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self):
        self.sub.stop()
        self.thread.join(20)
        if self.error:
            raise self.error
        return self.result


def count(db: Path, sql: str) -> int:
    """A count read on a connection of its own (the subscriber's connection is busy on its thread)."""
    import sqlite3

    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        conn.close()


def wait_for(predicate, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def reading(sid, seq, t, roll, event="heartbeat", accel=(0.0, 0.0, 1.0)):
    return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "roll_deg": roll, "pitch_deg": 0.0,
            "accel_g": list(accel), "battery_v": 3.8, "rssi_dbm": -70, "event": event, "link": "ok"}


def test_round_trip_publish_ingest_alarm_task(broker, tmp_path, registry, th):
    db = tmp_path / "ft.sqlite"
    conn = open_db(db)
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=True)
    running = Running(Subscriber(ing, broker.config(client_id="ft-sub")))
    stone = next(s for s in registry if s.works_id == "HYK")
    t0 = NOW - timedelta(minutes=10)
    new = stone.baseline_roll_deg + 20
    msgs = [reading(stone.stone_id, 1, t0, stone.baseline_roll_deg)]
    msgs += [reading(stone.stone_id, 2 + k, t0 + timedelta(seconds=30 + 5 * k), new, "movement", (0.5, 0.0, 2.4))
             for k in range(2)]
    msgs += [reading(stone.stone_id, 4 + k, t0 + timedelta(seconds=90 + 60 * k), new) for k in range(3)]
    # a payload filed under another stone's topic is quarantined, not misfiled
    stray = ("ST002", json.dumps(reading(stone.stone_id, 99, t0, 0.0)))
    publish(broker.config(), [(stone.stone_id, json.dumps(m)) for m in msgs] + [stray], client_id="ft-pub")
    assert wait_for(lambda: count(db, "SELECT count(*) FROM tasks") == 3)
    summary = running.stop()
    assert summary.accepted == 6 and dict(summary.quarantined) == {"malformed": 1}
    states = [(e["from"], e["to"]) for e in summary.events]
    assert states == [("normal", "shaking"), ("shaking", "displaced")]
    task = conn.execute("SELECT * FROM tasks WHERE category = 'works_emergency'").fetchone()
    assert task["source"] == "sensor" and f"spur {stone.spur_number}" in task["title_en"]
    q = conn.execute("SELECT * FROM quarantine").fetchone()
    assert "does not match topic" in q["detail"] and q["source"] == "mqtt:floodtwin/stones/ST002/reading"


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(broker, tmp_path, registry, th):
    sim = simulate(registry, th, start=NOW - timedelta(hours=6), hours=6, events=0, bad=0, seed=5)
    assert sim.valid > 2500
    db = tmp_path / "ft.sqlite"
    conn = open_db(db)
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
    running = Running(Subscriber(ing, broker.config(client_id="ft-sub"), batch_max=200))
    restarted = threading.Event()

    def restart():
        # once part of the stream is in, stop the broker and bring it back on the same port
        wait_for(lambda: count(db, "SELECT count(*) FROM readings") > 500, 30)
        broker.stop()
        time.sleep(0.5)
        broker.start()
        restarted.set()

    t = threading.Thread(target=restart)
    t.start()
    publish(broker.config(), sim.messages, client_id="ft-pub", rate_per_s=2000, timeout_s=60)
    t.join(30)
    assert restarted.is_set()
    assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") >= sim.valid, 30)
    time.sleep(0.3)  # let any redelivery arrive
    summary = running.stop()
    assert running.sub.connects >= 2  # it did reconnect
    assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == sim.valid
    assert conn.execute("SELECT count(DISTINCT stone_no || ':' || seq) FROM readings").fetchone()[0] == sim.valid
    expected = {(json.loads(p)["stone_id"], json.loads(p)["seq"]) for _, p in sim.messages}
    got = {(r[0], r[1]) for r in conn.execute("SELECT stone_id, seq FROM readings_utc")}
    assert got == expected
    # redeliveries (QoS 1 is at least once) are quarantined as duplicates, nothing else
    reasons = {r[0] for r in conn.execute("SELECT DISTINCT reason FROM quarantine")}
    assert reasons <= {"duplicate"}
    assert all("identical redelivery" in r[0] for r in conn.execute("SELECT detail FROM quarantine"))
    assert summary.accepted == sim.valid


def test_persistent_session_keeps_readings_while_the_subscriber_is_away(broker, tmp_path, registry, th):
    db = tmp_path / "ft.sqlite"
    conn = open_db(db)
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
    cfg = broker.config(client_id="ft-away")
    first = Running(Subscriber(ing, cfg))
    first.stop()
    t0 = NOW - timedelta(hours=1)
    msgs = [("ST010", json.dumps(reading("ST010", k, t0 + timedelta(minutes=k), 0.0))) for k in range(1, 21)]
    publish(broker.config(), msgs, client_id="ft-pub")
    second = Running(Subscriber(ing, cfg))
    assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") == 20)
    second.stop()
    assert [r[0] for r in conn.execute("SELECT seq FROM readings ORDER BY seq")] == list(range(1, 21))


def test_credentials_are_required_and_used(tmp_path, registry, th):
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "gauge", "s3cret"], check=True,
                   capture_output=True)
    passwd.chmod(0o600)
    b = Broker(tmp_path, extra=f"allow_anonymous false\npassword_file {passwd}")
    b.start()
    try:
        db = tmp_path / "ft.sqlite"
        conn = open_db(db)
        ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
        with pytest.raises(FeedError, match="refused the connection"):
            Subscriber(ing, b.config(username="gauge", password="wrong")).run(duration_s=1)
        url_cfg = BrokerConfig.from_url(f"mqtt://gauge:s3cret@127.0.0.1:{b.port}", reconnect_min_s=0.1,
                                        connect_timeout_s=10)
        running = Running(Subscriber(ing, url_cfg))
        line = json.dumps(reading("ST020", 1, NOW - timedelta(minutes=5), 0.0))
        publish(url_cfg, [("ST020", line)], client_id="ft-pub")
        assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") == 1)
        running.stop()
    finally:
        b.stop()


def _make_certs(d: Path) -> None:
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=d)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key",
        "-out", "ca.crt", "-subj", "/CN=floodtwin test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls_connection_with_a_ca_file(tmp_path, registry, th):
    _make_certs(tmp_path)
    b = Broker(tmp_path, extra=f"allow_anonymous true\ncafile {tmp_path}/ca.crt\ncertfile {tmp_path}/server.crt\n"
                               f"keyfile {tmp_path}/server.key")
    b.start()
    try:
        db = tmp_path / "ft.sqlite"
        conn = open_db(db)
        ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
        cfg = BrokerConfig.from_url(f"mqtts://127.0.0.1:{b.port}", ca_file=str(tmp_path / "ca.crt"),
                                    reconnect_min_s=0.1, connect_timeout_s=10)
        assert cfg.tls
        running = Running(Subscriber(ing, cfg))
        publish(cfg, [("ST030", json.dumps(reading("ST030", 1, NOW - timedelta(minutes=5), 0.0)))],
                client_id="ft-pub")
        assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") == 1)
        running.stop()
    finally:
        b.stop()


def test_cli_simulate_to_broker_and_ingest_from_it(broker, tmp_path):
    env = {**os.environ, "FLOODTWIN_DB": str(tmp_path / "cli.sqlite")}
    cli = [sys.executable, "-m", "floodtwin"]
    url = f"mqtt://127.0.0.1:{broker.port}"
    sub = subprocess.Popen(cli + ["stones", "ingest", "--mqtt", url, "--client-id", "ft-cli", "--idle-exit", "2",
                                  "--now", "2026-07-21T12:00:00Z", "--json", "--no-tasks"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the subscriber has subscribed (the broker logs it), so nothing is published before
    assert wait_for(lambda: "ft-cli 1 floodtwin/stones/+/reading" in (tmp_path / "mosquitto.log").read_text(
        errors="replace"), 30)
    pub = subprocess.run(cli + ["stones", "simulate", "--hours", "6", "--events", "0", "--bad", "1",
                                "--now", "2026-07-21T12:00:00Z", "--mqtt", url, "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert pub.returncode == 0, pub.stderr
    sent = json.loads(pub.stdout)
    out, err = sub.communicate(timeout=120)
    assert sub.returncode == 0, err
    doc = json.loads(out)
    assert doc["accepted"] == sent["valid_readings"]
    assert doc["quarantined_by_reason"] == sent["quarantine"]


def test_a_batch_that_fails_to_commit_is_not_acknowledged_and_comes_back(broker, tmp_path, registry, th):
    # a subscriber whose database goes away: its batch fails, nothing is acknowledged
    broken = open_db(tmp_path / "broken.sqlite")
    failing = Running(Subscriber(Ingestor(broken, registry=registry, thresholds=th, clock=lambda: NOW,
                                          submit=False), broker.config(client_id="ft-crash")))
    broken.close()
    t0 = NOW - timedelta(hours=1)
    msgs = [("ST040", json.dumps(reading("ST040", k, t0 + timedelta(minutes=k), 0.0))) for k in range(1, 11)]
    publish(broker.config(), msgs, client_id="ft-pub")
    assert wait_for(lambda: not failing.thread.is_alive(), 20)
    with pytest.raises(Exception, match="closed database"):
        failing.stop()
    # the same session on a working database receives every reading again
    db = tmp_path / "ft.sqlite"
    conn = open_db(db)
    again = Running(Subscriber(Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False),
                               broker.config(client_id="ft-crash")))
    assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") == 10)
    again.stop()
    assert [r[0] for r in conn.execute("SELECT seq FROM readings ORDER BY seq")] == list(range(1, 11))


def test_the_subscriber_sweeps_silent_stones_offline_without_new_messages(broker, tmp_path, registry, th):
    db = tmp_path / "ft.sqlite"
    conn = open_db(db)
    clock = {"now": NOW}
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: clock["now"], submit=False)
    running = Running(Subscriber(ing, broker.config(client_id="ft-sweep"), sweep_every_s=0.2))
    line = json.dumps(reading("ST050", 1, NOW - timedelta(minutes=10), 0.0))
    publish(broker.config(), [("ST050", line)], client_id="ft-pub")
    assert wait_for(lambda: count(db, "SELECT count(*) FROM readings") == 1)
    assert count(db, "SELECT count(*) FROM alarm_events") == 0
    clock["now"] = NOW + timedelta(hours=2)  # 130 min of silence > 3 x 30 min
    assert wait_for(lambda: count(db, "SELECT count(*) FROM alarm_events WHERE stone_id = 'ST050' "
                                      "AND to_state = 'offline'") == 1)
    summary = running.stop()
    offline = [e for e in summary.events if e["stone_id"] == "ST050"]
    assert [(e["kind"], e["to"]) for e in offline] == [("offline", "offline")]
    assert offline[0]["time"] == (NOW - timedelta(minutes=10) + timedelta(minutes=90)).isoformat().replace(
        "+00:00", ".000Z")
