"""Integration: concurrency, crashes, an unreachable receiver, locked and corrupt databases.

Real SQLite files, real subprocesses (killed with SIGKILL), a real HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta

import yaml

from floodtwin.config import DATA_DIR
from floodtwin.dispatch import board
from floodtwin.dispatch.receiver import WebhookReceiver
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.schema import MIGRATIONS, ensure_schema
from floodtwin.dispatch.settings import load_config
from floodtwin.db import connect, migrate, schema_version
from floodtwin.tasks import TaskInstruction, task_key

SECRET = "resilience-secret"
T0 = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)  # 10:00 local: shift A


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path, url: str, **delivery) -> str:
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = [{"name": "app", "kind": "webhook", "url": url, "secret": SECRET, "timeout_s": 2}]
    doc["dispatch"]["delivery"].update(delivery)
    path = tmp_path / "dispatch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return str(path)


def roster() -> Roster:
    """Two grids of the town, four members each on shift A, leaders on duty."""
    grids = [{"grid_id": g, "level": "grid", "parent": "TOWN-X", "leader_id": f"L{g}", "cx": 1.0, "cy": 2.0}
             for g in ("G01", "G02")]
    staff = [{"staff_id": f"L{g}", "role": "grid_leader", "grid_id": g, "shift": "A", "on_duty": True}
             for g in ("G01", "G02")]
    staff += [{"staff_id": f"M{g}{i}", "role": "grid_member", "grid_id": g, "shift": "A", "on_duty": True}
              for g in ("G01", "G02") for i in range(4)]
    return Roster.from_records(staff, grids)


def instructions(n: int) -> list[TaskInstruction]:
    return [TaskInstruction(key=task_key("patrol.round", "segment", f"R-{i:03d}"), template_id="patrol.round",
                            category="patrol", tier="II", owner_role="grid_member", title_zh=f"巡查R-{i:03d}",
                            title_en=f"Patrol R-{i:03d}", deadline_min=60, scope_kind="segment",
                            scope_id=f"R-{i:03d}", grid_id="G01" if i % 2 else "G02") for i in range(n)]


def setup_board(tmp_path, url: str, n: int, **delivery):
    config_path = write_config(tmp_path, url, **delivery)
    db = tmp_path / "ft.sqlite"
    conn = connect(db)
    ensure_schema(conn)
    config = load_config(config_path)
    return conn, db, config_path, config


def cli(db, config_path, *args, env_extra=None, timeout=120):
    env = {**os.environ, "FLOODTWIN_CONFIG": config_path, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "floodtwin", *args, "--db", str(db)], capture_output=True,
                          text=True, env=env, timeout=timeout)


# ----------------------------------------------------------------------------------------------

WORKER = textwrap.dedent('''
    import json, os, sys, time
    from datetime import datetime, timedelta, UTC
    from floodtwin import reports
    from floodtwin.dispatch import board
    from floodtwin.dispatch.settings import load_config
    from floodtwin.db import connect
    from floodtwin.errors import InputError

    db, config_path, name, go = sys.argv[1:5]
    conn = connect(db)
    config = load_config(config_path)
    keys = [r[0] for r in conn.execute("SELECT key FROM tasks ORDER BY key")]
    # A is each task's grid member (level 0), B its grid leader (the ack timer escalated it to him): both may ack
    level = 0 if name == "A" else 1
    me = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE level=?", (level,))}
    reporter = "MG010" if name == "A" else "MG020"
    index = reports.ReachIndex(__import__("floodtwin.reach").reach.load_reach("huayuankou"))
    open(go + "." + name, "w").close()   # ready
    while not os.path.exists(go):
        time.sleep(0.002)
    t0 = datetime(2026, 7, 20, 2, 8, tzinfo=UTC)  # after the escalation below
    won, refused, reported, shared = [], 0, [], []
    for i, key in enumerate(keys):
        try:   # both workers race to acknowledge every task: exactly one may win each
            board.ack(conn, key, now=t0, actor=me[key], config=config)
            won.append(key)
        except InputError as exc:
            assert "cannot ack a task that is" in str(exc), exc
            refused += 1
        row = reports.add_report(conn, {"id": f"{name}-{i}", "kind": "patrol", "grid_id": "G07", "reporter": reporter,
                                        "chainage": 5000 + i, "text": "route done, nothing found"},
                                 now=t0, actor="app", reach=index, config=config)
        assert row["status"] == "accepted", row
        reported.append(row["report_id"])
        # the same report from the app reaches both processes at once: stored once, the other sees a repeat
        same = reports.add_report(conn, {"id": f"shared-{i}", "kind": "patrol", "grid_id": "G07", "reporter": "LG01",
                                         "chainage": 6000 + i, "text": "sent twice"},
                                  now=t0, actor="app", reach=index, config=config)
        assert same["status"] == "accepted", same
        if not same["duplicate"]:
            shared.append(same["report_id"])
    for key in won:   # then each carries its own tasks on
        board.start(conn, key, now=t0 + timedelta(minutes=2), actor=me[key], config=config)
        board.done(conn, key, now=t0 + timedelta(minutes=20), actor=me[key], config=config)
    print(json.dumps({"won": won, "refused": refused, "reported": reported, "shared": shared}))
''')


def test_two_processes_acknowledge_and_report_without_lost_updates(tmp_path):
    conn, db, config_path, config = setup_board(tmp_path, "http://127.0.0.1:9/unused", 0)
    tasks = instructions(40)
    board.submit(conn, tasks, now=T0, actor="duty", reason="drill", config=config, roster=roster())
    # every ack timer runs out: each task now has two people who may acknowledge it, its member and its leader
    # (after the ack timer's grace period: the racers' clock t0 in WORKER is later still)
    escalated = board.tick(conn, now=T0 + timedelta(minutes=3.5 + config.dispatch.sla.grace_min), config=config,
                           roster=roster())
    assert len(escalated) == len(tasks) and all(e["escalated_to"].startswith("LG") for e in escalated)
    member = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE level=0")}
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(db), config_path, name, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("A", "B")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"go.{n}").exists() for n in ("A", "B")) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.write_text("go")  # both are ready: they start together
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    won_a, won_b = set(outs[0]["won"]), set(outs[1]["won"])
    # the race really ran: each process won some acknowledgements and lost others (one that finished
    # before the other started would pass every check below without testing the lock)
    assert won_a and won_b, f"the workers did not overlap (A won {len(won_a)}, B won {len(won_b)}): no race was tested"
    assert not won_a & won_b and won_a | won_b == {t.key for t in tasks}
    assert outs[0]["refused"] + outs[1]["refused"] == len(tasks)
    # every change of both processes is in the database: nothing overwritten, nothing lost
    acks = conn.execute("SELECT task_key, actor FROM events WHERE kind='ack'").fetchall()
    assert len(acks) == len(tasks) and len({a[0] for a in acks}) == len(tasks)
    assert all((a[1] == member[a[0]]) == (a[0] in won_a) for a in acks)
    # every lost race is in the log as a refusal, committed although the action changed nothing
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind='refused'").fetchone()[0] == len(tasks)
    states = conn.execute("SELECT state, version, COUNT(*) FROM tasks GROUP BY state, version").fetchall()
    assert [tuple(s) for s in states] == [("done", 5, len(tasks))]  # created + escalated + ack + start + done
    shared_a, shared_b = set(outs[0]["shared"]), set(outs[1]["shared"])
    assert not shared_a & shared_b and len(shared_a | shared_b) == len(tasks)  # each stored by exactly one
    assert conn.execute("SELECT COUNT(*) FROM reports WHERE status='accepted'").fetchone()[0] == 3 * len(tasks)
    assert conn.execute("SELECT COUNT(*) FROM reports WHERE status!='accepted'").fetchone()[0] == 0


# ----------------------------------------------------------------------------------------------

SENDER = textwrap.dedent('''
    import os, sys, time
    from datetime import datetime, UTC
    from floodtwin.dispatch import board, notify
    from floodtwin.dispatch.roster import load_roster
    from floodtwin.dispatch.settings import load_config
    from floodtwin.db import connect
    from floodtwin.tasks import TaskInstruction, task_key

    db, config_path, mode = sys.argv[1:4]
    conn = connect(db)
    config = load_config(config_path)
    now = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)
    if mode == "submit":
        tasks = [TaskInstruction(key=task_key("evac.notify", "village", f"V{i:02d}"), template_id="evac.notify",
                                 category="evacuation", tier="I", owner_role="grid_member", title_zh=f"通知V{i:02d}",
                                 title_en=f"Warn village V{i:02d}", deadline_min=30, grid_id="G01")
                 for i in range(20)]
        board.submit(conn, tasks, now=now, actor="duty", reason="tier I", config=config, roster=load_roster(conn))
        print("committed", flush=True)
        time.sleep(60)   # killed here: the state change is in, the delivery has not started
    notify.deliver(conn, config, now=now)
    print("delivered", flush=True)
''')


def _start_sender(tmp_path, db, config_path, mode):
    script = tmp_path / "sender.py"
    script.write_text(SENDER, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), str(db), config_path, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigkill_between_state_change_and_delivery_then_rerun(tmp_path):
    with WebhookReceiver(SECRET.encode()) as rx:
        conn, db, config_path, config = setup_board(tmp_path, rx.url, 0)
        from floodtwin.dispatch.roster import sync_roster

        sync_roster(conn, roster())
        proc = _start_sender(tmp_path, db, config_path, "submit")
        assert proc.stdout.readline().strip() == "committed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # the change survived the crash with its messages, none sent yet
        assert conn.execute("SELECT COUNT(*) FROM tasks WHERE state='dispatched'").fetchone()[0] == 20
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status='pending'").fetchone()[0] == 20
        assert rx.accepted == []
        rerun = cli(db, config_path, "tasks", "deliver", "--now", T0.isoformat(), "--json")
        assert rerun.returncode == 0, rerun.stderr
        assert json.loads(rerun.stdout)["sent"] == 20
        again = cli(db, config_path, "tasks", "deliver", "--now", (T0 + timedelta(hours=1)).isoformat(), "--json")
        assert json.loads(again.stdout)["sent"] == 0
        keys = [a["key"] for a in rx.accepted]
        outbox_keys = {r[0] for r in conn.execute("SELECT idem_key FROM outbox")}
        assert len(keys) == 20 and set(keys) == outbox_keys and rx.duplicates == []


def test_sigkill_during_delivery_rerun_sends_each_once_under_its_key(tmp_path):
    out_file = tmp_path / "received.jsonl"
    with WebhookReceiver(SECRET.encode(), out=out_file, delay_s=0.2) as rx:
        conn, db, config_path, config = setup_board(tmp_path, rx.url, 0)
        from floodtwin.dispatch.roster import sync_roster

        sync_roster(conn, roster())
        board.submit(conn, instructions(12), now=T0, actor="duty", reason="r", config=config,
                     roster=roster())
        proc = _start_sender(tmp_path, db, config_path, "deliver")
        deadline = time.monotonic() + 60
        while len(rx.accepted) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # one request is in flight: received, not yet recorded as sent
        proc.wait(timeout=30)
        first = {a["key"] for a in rx.accepted}
        assert 3 <= len(first) < 12
    # the receiver restarts too (it remembers the keys it has accepted, from its file)
    with WebhookReceiver(SECRET.encode(), out=out_file, port=int(rx.url.split(":")[2].split("/")[0])) as rx2:
        # after the dead process's lease (60 s) its claimed rows are sent again, under the same keys
        rerun = cli(db, config_path, "tasks", "deliver", "--now", (T0 + timedelta(minutes=2)).isoformat(), "--json")
        assert rerun.returncode == 0, rerun.stderr
        second = [a["key"] for a in rx2.accepted]
    outbox_keys = {r[0] for r in conn.execute("SELECT idem_key FROM outbox")}
    assert first | set(second) == outbox_keys  # every notification arrived
    assert not first & set(second)  # none was accepted twice: repeats were recognised by key
    assert set(rx2.duplicates) <= first
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0] == 0


def test_receiver_down_for_a_while_then_delivery_resumes(tmp_path):
    port = free_port()
    conn, db, config_path, config = setup_board(tmp_path, f"http://127.0.0.1:{port}/notify", 0,
                                                backoff_base_s=0.2, backoff_max_s=1.0, max_attempts=50)
    board.submit(conn, instructions(6), now=datetime.now(UTC), actor="duty", reason="r", config=config,
                 roster=roster())
    down = cli(db, config_path, "tasks", "deliver", "--json")
    assert down.returncode == 0, down.stderr
    first = json.loads(down.stdout)
    # one attempt finds it down; the other five are held back with it (one timeout per pass, not six)
    assert (first["retrying"], first["deferred"], first["outbox"]) == (1, 5, {"pending": 6})
    rx = WebhookReceiver(SECRET.encode(), port=port)
    timer = threading.Timer(1.0, rx.start)  # the receiver comes back a while later
    timer.start()
    try:
        proc = cli(db, config_path, "tasks", "deliver", "--wait", "20", "--json")
    finally:
        timer.join()
        rx.stop()
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["sent"] == 6 and doc["outbox"] == {"sent": 6}
    assert len(rx.accepted) == 6 and rx.duplicates == []
    attempts = [r[0] for r in conn.execute("SELECT attempts FROM outbox ORDER BY id")]
    assert attempts[0] >= 2 and min(attempts) >= 1  # the probing row failed while it was down, then all went


def test_locked_database_gives_one_line_and_writes_nothing(tmp_path):
    conn, db, config_path, config = setup_board(tmp_path, "http://127.0.0.1:9/x", 0)
    tasks = instructions(2)
    board.submit(conn, tasks, now=T0, actor="duty", reason="r", config=config, roster=roster())
    before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    member = conn.execute("SELECT staff_id FROM assignments WHERE task_key=?", (tasks[0].key,)).fetchone()[0]
    holder = connect(db)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing and does not let go
    try:
        started = time.monotonic()
        proc = cli(db, config_path, "tasks", "ack", tasks[0].key, "--now", T0.isoformat(), "--no-deliver",
                   "--actor", member, env_extra={"FLOODTWIN_DB_LOCK_TIMEOUT_S": "1"})
        assert time.monotonic() - started < 30
    finally:
        holder.execute("ROLLBACK")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "locked" in lines[0] and "Traceback" not in proc.stderr
    assert conn.execute("SELECT state FROM tasks WHERE key=?", (tasks[0].key,)).fetchone()[0] == "dispatched"
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    ok = cli(db, config_path, "tasks", "ack", tasks[0].key, "--now", T0.isoformat(), "--no-deliver",
             "--actor", member)
    assert ok.returncode == 0, ok.stderr


def test_corrupt_database_gives_one_line_and_is_not_touched(tmp_path):
    config_path = write_config(tmp_path, "http://127.0.0.1:9/x")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(os.urandom(8192))
    digest = hashlib.sha256(garbage.read_bytes()).hexdigest()
    proc = cli(garbage, config_path, "tasks", "list", "--json")
    assert proc.returncode == 2 and "not a database" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert hashlib.sha256(garbage.read_bytes()).hexdigest() == digest

    # a real database with damaged pages
    conn, db, _, config = setup_board(tmp_path, "http://127.0.0.1:9/x", 0)
    board.submit(conn, instructions(200), now=T0, actor="duty", reason="r", config=config, roster=roster())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.seek(size // 3)
        fh.write(os.urandom(size // 3))
    proc = cli(db, config_path, "tasks", "list", "--json")
    assert proc.returncode == 2 and "malformed" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_older_database_is_upgraded_newer_refused(tmp_path):
    config_path = write_config(tmp_path, "http://127.0.0.1:9/x")
    db = tmp_path / "old.sqlite"
    conn = connect(db)
    migrate(conn, "dispatch", MIGRATIONS[:1])  # a database written before the v2 step
    conn.execute("INSERT INTO roster_grids(grid_id, level) VALUES ('G01', 'grid')")
    proc = cli(db, config_path, "tasks", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert schema_version(conn, "dispatch") == len(MIGRATIONS)
    assert conn.execute("SELECT grid_id, geom FROM roster_grids").fetchone()[0] == "G01"
    conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'dispatch'")
    proc = cli(db, config_path, "tasks", "list")
    assert proc.returncode == 2 and "newer than this floodtwin" in proc.stderr


def test_sigkill_during_the_activations_delivery_rerun_takes_over_at_once_and_logs_each_line_once(tmp_path):
    """Issue 14.6: a level-I activation killed while it delivers, just after writing a log line and
    before recording it. The rerun of the same activation, at once (well within the 60 s lease),
    takes the dead process's claims over and delivers every message; the log has each message once."""
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = [{"name": "log", "kind": "log", "path": "notifications.jsonl"}]
    config_path = tmp_path / "dispatch.yaml"
    config_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    db, log = tmp_path / "ft.sqlite", tmp_path / "notifications.jsonl"
    conn = connect(db)
    ensure_schema(conn)
    args = ("tasks", "activate", "--discharge", "22000", "--now", T0.isoformat(), "--json")
    proc = subprocess.Popen([sys.executable, "-m", "floodtwin", *args, "--db", str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "FLOODTWIN_CONFIG": str(config_path)})
    holder = connect(db)
    try:
        deadline = time.monotonic() + 120
        while conn.execute("SELECT COUNT(*) FROM outbox WHERE lease_until IS NOT NULL").fetchone()[0] == 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the activation never started delivering"
            time.sleep(0.002)
        # hold the write lock: the sender writes at most one more line, then waits to record it
        holder.execute("BEGIN IMMEDIATE")
        sent = holder.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
        while not log.exists() or len(log.read_bytes().splitlines()) < sent + 1:
            assert proc.poll() is None and time.monotonic() < deadline, "no line written after the lock was taken"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == -signal.SIGKILL
    total = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND lease_until IS NOT NULL"
                           ).fetchone()[0]
    assert total >= 300 and pending == total - sent  # the rest is claimed by the dead process
    assert len(log.read_bytes().splitlines()) == sent + 1  # one line more than recorded: that message is in doubt

    rerun = cli(db, str(config_path), *args)
    assert rerun.returncode == 0, rerun.stderr
    again = json.loads(rerun.stdout)
    assert again["created"] == [] and again["stood_down"] == []  # the activation itself had committed
    delivery = again["delivery"]
    assert (delivery["sent"], delivery["still_pending"]) == (pending, 0)
    assert (delivery["reclaimed"], delivery["already_logged"]) == (pending, 1)
    keys = [json.loads(line)["idempotency_key"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(keys) == len(set(keys)) == total  # every message, each exactly once
    assert set(keys) == {r[0] for r in conn.execute("SELECT idem_key FROM outbox")}


DELIVERER = textwrap.dedent('''
    import json, os, sys, time
    from datetime import datetime, UTC
    from floodtwin.dispatch import notify
    from floodtwin.dispatch.settings import load_config
    from floodtwin.db import connect

    db, config_path, name, go = sys.argv[1:5]
    conn = connect(db)
    config = load_config(config_path)
    open(go + "." + name, "w").close()   # ready
    while not os.path.exists(go):
        time.sleep(0.002)
    report = notify.deliver(conn, config, now=datetime(2026, 7, 20, 2, 0, tzinfo=UTC), batch=3)
    print(json.dumps(report.to_dict()))
''')


def test_two_live_deliverers_share_the_outbox_and_log_each_message_once(tmp_path):
    """Two processes of this machine deliver at once in small batches: each sees the other alive and
    never takes its claims over; every message is one log line."""
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = [{"name": "log", "kind": "log", "path": "notifications.jsonl"}]
    config_path = tmp_path / "dispatch.yaml"
    config_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    conn, db = connect(tmp_path / "ft.sqlite"), tmp_path / "ft.sqlite"
    ensure_schema(conn)
    board.submit(conn, instructions(120), now=T0, actor="duty", reason="drill", config=load_config(config_path),
                 roster=roster())
    script = tmp_path / "deliverer.py"
    script.write_text(DELIVERER, encoding="utf-8")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(config_path), name, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("A", "B")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"go.{n}").exists() for n in ("A", "B")) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.write_text("go")
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    assert all(r["sent"] > 0 for r in reports), f"the deliverers did not overlap: {reports}"
    assert sum(r["sent"] for r in reports) == 120 and all(r["reclaimed"] == 0 for r in reports)
    keys = [json.loads(x)["idempotency_key"] for x in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 120
