"""Unit tests of the outbox and notifiers: real HTTP receiver, real SMTP server, real files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from floodtwin.config import DATA_DIR
from floodtwin.dispatch import notify
from floodtwin.dispatch.board import log_event
from floodtwin.dispatch.receiver import WebhookReceiver
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.db import connect, transaction, ts
from floodtwin.dispatch.settings import load_config
from floodtwin.errors import ConfigError

T0 = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests"


def write_config(tmp_path, notifiers, **delivery):
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = notifiers
    doc["dispatch"]["delivery"].update(delivery)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queue(conn, config, n=3, kind="dispatched", recipients=("M1",)):
    with transaction(conn):
        for i in range(n):
            ev = log_event(conn, now=T0, actor="t", kind=kind, task_key=f"k{i}")
            notify.enqueue(conn, config, kind=kind, event_id=ev, recipients=recipients, now=T0, task_key=f"k{i}",
                           payload={"subject_zh": "新任务", "subject_en": "New task", "text_zh": f"任务{i}",
                                    "text_en": f"task {i}"})


@pytest.fixture()
def conn(tmp_path):
    c = connect(tmp_path / "ft.sqlite")
    ensure_schema(c)
    yield c
    c.close()


def test_signature_roundtrip_and_replay_window():
    body = b'{"a": 1}'
    t = 1_780_000_000
    header = notify.sign(b"k", body, t)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert notify.verify_signature(b"k", body, header, str(t), now_s=t + 10)
    assert not notify.verify_signature(b"other", body, header, str(t), now_s=t)
    assert not notify.verify_signature(b"k", body + b" ", header, str(t), now_s=t)
    assert not notify.verify_signature(b"k", body, header, str(t + 1), now_s=t)  # timestamp is signed too
    assert not notify.verify_signature(b"k", body, header, str(t), now_s=t + 3600)  # a replay, an hour later
    assert not notify.verify_signature(b"k", body, header, None, now_s=t)


def test_webhook_delivers_signed_keyed_json(tmp_path, conn, monkeypatch):
    monkeypatch.setenv("FT_TEST_SECRET", SECRET)
    with WebhookReceiver(SECRET.encode()) as rx:
        config = load_config(write_config(tmp_path, [{"name": "app", "kind": "webhook", "url": rx.url,
                                                      "secret_env": "FT_TEST_SECRET", "timeout_s": 2}]))
        queue(conn, config, n=3, recipients=("M1", "M2"))
        report = notify.deliver(conn, config, now=T0)
        assert report.sent == 6 and report.still_pending == 0
        assert rx.rejected == 0 and rx.duplicates == []
        keys = [a["key"] for a in rx.accepted]
        assert len(set(keys)) == 6
        assert {a["body"]["recipient"] for a in rx.accepted} == {"M1", "M2"}
        assert all(a["body"]["idempotency_key"] == a["key"] for a in rx.accepted)
        # the same rows are never sent again once recorded as sent
        assert notify.deliver(conn, config, now=T0 + timedelta(hours=1)).sent == 0


def test_wrong_secret_is_refused_permanently(tmp_path, conn):
    with WebhookReceiver(b"the-real-secret") as rx:
        config = load_config(write_config(tmp_path, [{"name": "app", "kind": "webhook", "url": rx.url,
                                                      "secret": "a-wrong-secret"}]))
        queue(conn, config, n=1)
        report = notify.deliver(conn, config, now=T0)
        assert report.dead == 1 and rx.rejected == 1 and rx.accepted == []
        row = conn.execute("SELECT status, last_error FROM outbox").fetchone()
        assert row["status"] == "dead" and "HTTP 401" in row["last_error"]


def test_receiver_down_then_up_resumes_with_backoff(tmp_path, conn):
    port = free_port()
    config = load_config(write_config(tmp_path, [{"name": "app", "kind": "webhook", "secret": SECRET,
                                                  "url": f"http://127.0.0.1:{port}/notify", "timeout_s": 1}],
                                      backoff_base_s=10, max_attempts=6))
    queue(conn, config, n=2)
    r1 = notify.deliver(conn, config, now=T0)
    # the first row finds the receiver down; the second is not tried in that pass but held back with it
    assert (r1.sent, r1.retrying, r1.deferred) == (0, 1, 1) and "127.0.0.1" in r1.errors[0]
    rows = [tuple(r) for r in conn.execute("SELECT attempts, next_attempt_at FROM outbox ORDER BY id")]
    assert rows == [(1, ts(T0 + timedelta(seconds=10))), (0, ts(T0 + timedelta(seconds=10)))]
    # not due again before the backoff: 10 s after the first failure, 20 s after the second
    assert notify.deliver(conn, config, now=T0 + timedelta(seconds=9)).retrying == 0
    r2 = notify.deliver(conn, config, now=T0 + timedelta(seconds=10))
    assert (r2.retrying, r2.deferred) == (1, 1)
    nxt = conn.execute("SELECT next_attempt_at, attempts FROM outbox WHERE id = 1").fetchone()
    assert nxt["attempts"] == 2 and nxt["next_attempt_at"] == ts(T0 + timedelta(seconds=30))
    with WebhookReceiver(SECRET.encode(), port=port) as rx:
        assert notify.deliver(conn, config, now=T0 + timedelta(seconds=29)).sent == 0
        report = notify.deliver(conn, config, now=T0 + timedelta(seconds=30))
        assert report.sent == 2 and report.still_pending == 0 and report.deferred == 0
        assert len(rx.accepted) == 2


def test_an_unreachable_gateway_costs_one_timeout_per_pass_not_one_per_message(tmp_path, conn):
    """A gateway that accepts connections and never answers (a black hole): 40 messages, 0.5 s
    timeout. One pass must not block for 40 x 0.5 s; every message waits for the next pass."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel completes the handshakes; nobody reads or answers
    port = silent.getsockname()[1]
    try:
        config = load_config(write_config(tmp_path, [
            {"name": "app", "kind": "webhook", "secret": SECRET, "url": f"http://127.0.0.1:{port}/n", "timeout_s": 0.5},
            {"name": "log", "kind": "log", "path": "n.jsonl"}], backoff_base_s=5))
        queue(conn, config, n=40)
        started = time.monotonic()
        report = notify.deliver(conn, config, now=T0)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 5.0, f"one pass took {elapsed:.1f} s"
    # the log notifier is not held up by the webhook being down
    assert (report.sent, report.retrying, report.deferred, report.still_pending) == (40, 1, 39, 40)
    assert notify.outbox_counts(conn) == {"pending": 40, "sent": 40}
    due = {r[0] for r in conn.execute("SELECT next_attempt_at FROM outbox WHERE status = 'pending'")}
    assert due == {ts(T0 + timedelta(seconds=5))}


def test_gives_up_after_max_attempts_and_keeps_the_row(tmp_path, conn):
    config = load_config(write_config(tmp_path, [{"name": "app", "kind": "webhook", "secret": SECRET,
                                                  "url": f"http://127.0.0.1:{free_port()}/x", "timeout_s": 1}],
                                      backoff_base_s=1, max_attempts=3))
    queue(conn, config, n=1)
    now = T0
    for _ in range(3):
        notify.deliver(conn, config, now=now)
        now += timedelta(minutes=10)
    assert notify.outbox_counts(conn) == {"dead": 1}
    assert conn.execute("SELECT attempts FROM outbox").fetchone()[0] == 3


def _process(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_leases_of_live_holders_are_kept_of_gone_ones_taken_over_at_once(tmp_path, conn):
    """Leases run on the wall clock and name their holder: a live process keeps its rows, a
    process of this machine that is gone loses them at once, another machine's only on expiry."""
    config = load_config(write_config(tmp_path, [{"name": "log", "kind": "log", "path": "n.jsonl"}], lease_s=60))
    queue(conn, config, n=4)
    live = _process("import time; time.sleep(60)")
    dead = _process("import time; time.sleep(60)")
    try:
        deadline = time.monotonic() + 10
        while notify.lease_holder(dead.pid).endswith("|-") and time.monotonic() < deadline:
            time.sleep(0.01)
        gone = notify.lease_holder(dead.pid)  # taken while it ran; then it is killed
        dead.kill()
        dead.wait(timeout=10)
        held = ts(datetime.now(UTC) + timedelta(seconds=60))
        for row_id, holder in ((1, notify.lease_holder(live.pid)), (2, gone), (3, "elsewhere|4242|99")):
            conn.execute("UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id = ?", (held, holder, row_id))
        assert notify.holder_alive(notify.lease_holder(live.pid)) is True
        assert notify.holder_alive(gone) is False
        assert notify.holder_alive("elsewhere|4242|99") is None  # another machine: cannot tell, wait
        # the same pid with another start time is another process (the pid was reused): the holder is gone
        assert notify.holder_alive(notify.lease_holder(live.pid).rsplit("|", 1)[0] + "|1") is False
        first = notify.deliver(conn, config, now=T0)  # the drill's clock does not move the wall-clock leases
        assert (first.sent, first.reclaimed) == (2, 1)
        sent = {r[0] for r in conn.execute("SELECT id FROM outbox WHERE status = 'sent'")}
        assert sent == {2, 4}
        # once their leases run out, the live process's and the other machine's rows are taken over too
        conn.execute("UPDATE outbox SET lease_until = ? WHERE id IN (1, 3)",
                     (ts(datetime.now(UTC) - timedelta(seconds=1)),))
        second = notify.deliver(conn, config, now=T0)
        assert (second.sent, second.reclaimed) == (2, 2)
    finally:
        live.kill()
        live.wait(timeout=10)
    lines = [json.loads(x) for x in (tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and len({x["idempotency_key"] for x in lines}) == 4
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL").fetchone()[0] == 0


def test_a_log_line_written_before_a_crash_is_not_written_again(tmp_path, conn):
    """A process wrote a message's line and died before recording it: the row is in doubt; the
    next delivery finds its key in the file and records it as sent without a second line."""
    config = load_config(write_config(tmp_path, [{"name": "log", "kind": "log", "path": "n.jsonl"}]))
    queue(conn, config, n=3)
    rows = [dict(r) for r in conn.execute("SELECT id, idem_key, payload FROM outbox ORDER BY id")]
    (tmp_path / "n.jsonl").write_text(rows[0]["payload"] + "\n", encoding="utf-8")  # what it wrote
    expired = ts(datetime.now(UTC) - timedelta(seconds=1))
    conn.execute("UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id IN (?, ?)",
                 (expired, "elsewhere|1|1", rows[0]["id"], rows[1]["id"]))  # it had claimed two
    report = notify.deliver(conn, config, now=T0)
    assert (report.sent, report.reclaimed, report.already_logged) == (3, 2, 1)
    keys = [json.loads(x)["idempotency_key"] for x in (tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(keys) == sorted(r["idem_key"] for r in rows)  # each message once
    assert notify.outbox_counts(conn) == {"sent": 3}


def test_digests_are_one_row_per_person_and_one_mail(tmp_path, conn):
    config = load_config(write_config(tmp_path, [
        {"name": "log", "kind": "log", "path": "n.jsonl"},
        {"name": "duty-mail", "kind": "smtp", "host": "127.0.0.1", "sender": "ft@localhost", "to": ["d@localhost"],
         "events": ["escalated"]},
        {"name": "app-dispatch", "kind": "log", "path": "d.jsonl", "events": ["dispatched"]}]))
    with transaction(conn):
        ev = log_event(conn, now=T0, actor="tick", kind="escalation_digest")
        rows = notify.enqueue_digests(conn, config, kind="escalated", event_id=ev, now=T0,
                                      payloads={"M1": {"text_en": "2 tasks"}, "L1": {"text_en": "1 task"}},
                                      summary={"text_en": "3 tasks, 2 people"})
    assert rows == 3
    got = {(r["notifier"], r["recipient"]): json.loads(r["payload"]) for r in conn.execute("SELECT * FROM outbox")}
    assert sorted(got) == [("duty-mail", "digest"), ("log", "L1"), ("log", "M1")]
    assert got[("log", "M1")]["text_en"] == "2 tasks" and got[("log", "M1")]["recipients"] == ["M1"]
    assert got[("duty-mail", "digest")]["text_en"] == "3 tasks, 2 people"


def test_log_notifier_appends_json_lines_next_to_database(tmp_path, conn):
    config = load_config(write_config(tmp_path, [{"name": "log", "kind": "log", "path": "out/n.jsonl"}]))
    queue(conn, config, n=2)
    notify.deliver(conn, config, now=T0)
    lines = (tmp_path / "out" / "n.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["text_zh"] for x in lines] == ["任务0", "任务1"]


def test_smtp_notifier_with_event_filter(tmp_path, conn):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got = []

    class Collect(Message):
        def handle_message(self, message):
            got.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = load_config(write_config(tmp_path, [
            {"name": "log", "kind": "log", "path": "n.jsonl"},
            {"name": "duty-mail", "kind": "smtp", "host": "127.0.0.1", "port": port, "sender": "ft@localhost",
             "to": ["duty@localhost"], "events": ["escalated"]}]))
        queue(conn, config, n=2, kind="dispatched", recipients=("M1", "M2"))
        queue(conn, config, n=1, kind="escalated", recipients=("M1", "L1"))
        report = notify.deliver(conn, config, now=T0)
        assert report.sent == 2 * 2 + 2 + 1  # log: one per recipient; mail: one per escalation
    finally:
        controller.stop()
    assert len(got) == 1
    mail = got[0]
    assert mail["X-Idempotency-Key"].startswith("duty-mail:escalated:")
    assert mail["To"] == "duty@localhost" and "New task" in mail["Subject"]


def test_config_errors_name_file_line_and_key(tmp_path, monkeypatch):
    path = write_config(tmp_path, [{"name": "x", "kind": "pigeon"}])
    with pytest.raises(ConfigError, match=r"cfg.yaml:\d+: notifiers.0"):
        load_config(path)
    path = write_config(tmp_path, [{"name": "log", "kind": "log", "path": "a"},
                                   {"name": "log", "kind": "log", "path": "b"}])
    with pytest.raises(ConfigError, match="unique"):
        load_config(path)
    doc = yaml.safe_load(path.read_text())
    doc["notifiers"] = []
    doc["dispatch"]["sla"]["ack_minutes"] = 3
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="dispatch.sla.ack_minutes: unknown key"):
        load_config(path)
    monkeypatch.setenv("FLOODTWIN_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="missing.yaml: file not found"):
        load_config()


def test_one_pass_delivers_everything_due_in_batches_or_up_to_a_limit(tmp_path, conn):
    config = load_config(write_config(tmp_path, [{"name": "log", "kind": "log", "path": "n.jsonl"}]))
    queue(conn, config, n=5)
    assert notify.deliver(conn, config, now=T0, limit=3, batch=2).sent == 3
    report = notify.deliver(conn, config, now=T0, batch=1)
    assert report.sent == 2 and report.still_pending == 0
    assert len((tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()) == 5


def test_webhook_timeout_is_retried_and_the_receiver_recognises_the_repeat(tmp_path, conn):
    # the receiver takes 1.5 s to answer; the sender gives up after 0.3 s and retries later
    with WebhookReceiver(SECRET.encode(), delay_s=1.5) as rx:
        config = load_config(write_config(tmp_path, [{"name": "app", "kind": "webhook", "url": rx.url,
                                                      "secret": SECRET, "timeout_s": 0.3}], backoff_base_s=5))
        queue(conn, config, n=1)
        first = notify.deliver(conn, config, now=T0)
        assert first.sent == 0 and first.retrying == 1 and "timed out" in first.errors[0]
        row = conn.execute("SELECT status, attempts, next_attempt_at FROM outbox").fetchone()
        assert tuple(row) == ("pending", 1, ts(T0 + timedelta(seconds=5)))
        rx.delay_s = 0.0
        second = notify.deliver(conn, config, now=T0 + timedelta(seconds=5))
        assert second.sent == 1 and second.still_pending == 0
    # it arrived once; the retry came under the same key and was recognised as a repeat
    assert len(rx.accepted) == 1 and rx.duplicates == [rx.accepted[0]["key"]]


def test_messages_of_a_drill_in_the_future_are_due_on_the_wall_clock(tmp_path, conn):
    config = load_config(write_config(tmp_path, [{"name": "log", "kind": "log", "path": "n.jsonl"}]))
    future = datetime.now(UTC) + timedelta(days=400)
    with transaction(conn):
        ev = log_event(conn, now=future, actor="drill", kind="dispatched", task_key="k")
        notify.enqueue(conn, config, kind="dispatched", event_id=ev, recipients=["M1"], now=future, task_key="k",
                       payload={"text_zh": "演练", "text_en": "drill"})
    assert conn.execute("SELECT created_at FROM outbox").fetchone()[0] == ts(future)  # the drill's time
    report = notify.deliver(conn, config, now=datetime.now(UTC))
    assert report.sent == 1 and report.still_pending == 0
