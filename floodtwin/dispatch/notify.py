"""Notifications: an outbox written with the state change, delivered afterwards, each exactly keyed.

A state change (dispatch, escalation, stand-down, push, danger report) writes its outbox rows in
the *same* transaction (:func:`enqueue`; a grouped message, the tick's escalation digests:
:func:`enqueue_digests`), so a crash can lose neither the change nor its message.
:func:`deliver` sends what is due, one row at a time: it first leases the rows (so two processes
never send the same row at once; the lease names its holder process, so the next run takes over
at once what a killed process had claimed), then sends, then records the outcome. A failed send
is retried with exponential backoff; after ``max_attempts`` the row is kept as ``dead``. Every
row carries a deterministic idempotency key (notifier, message kind, event id, recipient): if a
process dies after sending but before recording, the rerun sends again under the *same* key and
the receiver recognises the duplicate; the log notifier looks the key up in its file first, so
each message is one line. Notifiers: webhook (JSON POST, timeout, ``Idempotency-Key`` header,
``X-Floodtwin-Timestamp`` and ``X-Floodtwin-Signature: sha256=<HMAC of "timestamp." + body>``), a
JSON-lines log file, and SMTP e-mail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import smtplib
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from floodtwin.db import parse_ts, transaction, ts
from floodtwin.dispatch.settings import DispatchConfig, LogNotifier, SmtpNotifier, WebhookNotifier
from floodtwin.errors import ConfigError

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "IDEMPOTENCY_HEADER", "SIGNATURE_TOLERANCE_S",
           "idempotency_key", "sign", "verify_signature", "enqueue", "DeliveryError", "send_webhook",
           "send_log", "send_email", "DeliveryReport", "backoff_s", "lease_holder", "holder_alive",
           "release_orphaned_leases", "deliver", "deliver_until_done", "outbox_counts", "enqueue_digests"]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Floodtwin-Signature"
TIMESTAMP_HEADER = "X-Floodtwin-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: how far a receiver accepts the signed timestamp from its own clock (s): older requests are replays
SIGNATURE_TOLERANCE_S = 300


def idempotency_key(notifier: str, kind: str, event_id: int, recipient: str) -> str:
    """The key of one message: the same state change to the same person always gets the same key."""
    return f"{notifier}:{kind}:{event_id}:{recipient}"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """Signature header value: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body``.

    Signing the send time with the body lets a receiver refuse a captured request replayed later
    (see :func:`verify_signature`); the idempotency key covers honest retries.
    """
    return "sha256=" + hmac.new(secret, str(int(timestamp)).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None, timestamp: str | None, *,
                     now_s: float | None = None, tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: check the timestamp is recent, recompute the HMAC, compare in constant time."""
    if header is None or timestamp is None or not timestamp.isdigit():
        return False
    now_s = time.time() if now_s is None else now_s
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, int(timestamp)), header)


def _outbox_row(notifier: Any, kind: str, event_id: int, recipient: str, recipients: list[str],
                payload: dict[str, Any], created: str, due: str, task_key: str | None) -> tuple:
    key = idempotency_key(notifier.name, kind, event_id, recipient)
    body = {"idempotency_key": key, "kind": kind, "event_id": event_id, "recipient": recipient,
            "recipients": recipients, "sent_by": "floodtwin", **payload}
    return (key, notifier.name, recipient, kind, task_key, event_id,
            json.dumps(body, ensure_ascii=False, sort_keys=True), created, due)


def _due_times(now: datetime) -> tuple[str, str]:
    """(created, due) of new rows: due at once both on the change's clock and on the wall clock: a
    drill run with a future --now must not leave its messages waiting for that time in a later
    wall-clock `tasks deliver`."""
    created = ts(now)
    return created, min(created, ts(datetime.now(UTC)))


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO outbox(idem_key, notifier, recipient, kind, task_key, event_id, payload, "
        "created_at, next_attempt_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)


def enqueue(conn: sqlite3.Connection, config: DispatchConfig, *, kind: str, event_id: int,
            recipients: Iterable[str], payload: dict[str, Any], now: datetime,
            task_key: str | None = None) -> int:
    """Write the outbox rows of one message (call inside the state change's transaction).

    One row per (notifier, recipient) for notifiers that address people (webhook, log); one row
    per message for e-mail, which goes to the configured mailboxes. Returns the rows written.
    """
    recipients = list(dict.fromkeys(recipients))
    created, due = _due_times(now)
    rows = []
    for notifier in config.notifiers:
        if kind not in notifier.events:
            continue
        targets = ["+".join(recipients) or "-"] if isinstance(notifier, SmtpNotifier) else recipients
        rows.extend(_outbox_row(notifier, kind, event_id, r, recipients, payload, created, due, task_key)
                    for r in targets)
    _insert_rows(conn, rows)
    return len(rows)


def enqueue_digests(conn: sqlite3.Connection, config: DispatchConfig, *, kind: str, event_id: int,
                    payloads: dict[str, dict[str, Any]], summary: dict[str, Any], now: datetime) -> int:
    """Write the outbox rows of one grouped message (a tick's escalation digests; call inside its
    transaction): each person their own payload on the notifiers that address people, and one
    ``summary`` for each mailbox (a mailbox must not get one mail per person either). Returns the
    rows written."""
    recipients = sorted(payloads)
    created, due = _due_times(now)
    rows = []
    for notifier in config.notifiers:
        if kind not in notifier.events or not recipients:
            continue
        if isinstance(notifier, SmtpNotifier):
            rows.append(_outbox_row(notifier, kind, event_id, "digest", recipients, summary, created, due, None))
        else:
            rows.extend(_outbox_row(notifier, kind, event_id, r, [r], payloads[r], created, due, None)
                        for r in recipients)
    _insert_rows(conn, rows)
    return len(rows)


class DeliveryError(Exception):
    """A send failed; ``permanent`` means retrying cannot help (e.g. HTTP 400, bad address)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def send_webhook(notifier: WebhookNotifier, key: str, body: bytes) -> None:
    """POST ``body`` to the webhook with the idempotency key and the HMAC signature."""
    sent_at = int(time.time())  # wall clock on purpose: the receiver compares it with its own
    request = urllib.request.Request(notifier.url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        IDEMPOTENCY_HEADER: key,
        TIMESTAMP_HEADER: str(sent_at),
        SIGNATURE_HEADER: sign(notifier.shared_secret(), body, sent_at),
        "User-Agent": "floodtwin-dispatch",
    })
    try:
        with urllib.request.urlopen(request, timeout=notifier.timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # 4xx other than timeout/too-early/rate-limit means the receiver refuses this message for good
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        raise DeliveryError(f"HTTP {exc.code} from {notifier.url}", permanent=permanent) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{notifier.url}: {reason}") from None


def send_log(notifier: LogNotifier, key: str, body: bytes, base_dir: Path) -> None:
    """Append the message as one JSON line and fsync, so a logged message survives a crash."""
    path = Path(notifier.path)
    path = path if path.is_absolute() else base_dir / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(body + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise DeliveryError(f"{path}: {exc.strerror or exc}") from None


def send_email(notifier: SmtpNotifier, key: str, payload: dict[str, Any]) -> None:
    """Send one e-mail; Message-ID and X-Idempotency-Key derive from the key, so reruns are recognisable."""
    msg = EmailMessage()
    msg["From"] = notifier.sender
    msg["To"] = ", ".join(notifier.to)
    msg["Subject"] = f"[floodtwin] {payload.get('subject_zh', '')} / {payload.get('subject_en', payload['kind'])}"
    msg["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@floodtwin>"
    msg["X-Idempotency-Key"] = key
    msg.set_content(f"{payload.get('text_zh', '')}\n\n{payload.get('text_en', '')}\n\n"
                    + json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True))
    try:
        with smtplib.SMTP(notifier.host, notifier.port, timeout=notifier.timeout_s) as smtp:
            if notifier.starttls:
                smtp.starttls()
            if notifier.username:
                password = os.environ.get(notifier.password_env or "", "")
                smtp.login(notifier.username, password)
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{notifier.host}: recipients refused: {exc.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{notifier.host}:{notifier.port}: {exc}") from None


@dataclass
class DeliveryReport:
    """Outcome of one delivery pass (row counts) and the errors seen."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    #: rows not tried in this pass because their notifier had just failed (retried with it)
    deferred: int = 0
    still_pending: int = 0
    #: rows taken over from the claim of a process that is gone (or whose lease ran out)
    reclaimed: int = 0
    #: of those, log messages found already written by that process: recorded as sent, not written again
    already_logged: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "dead": self.dead, "deferred": self.deferred,
                "still_pending": self.still_pending, "reclaimed": self.reclaimed,
                "already_logged": self.already_logged, "errors": self.errors[:20]}


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Wait after the ``attempts``-th failure: base, 2·base, 4·base ... capped at ``max_s``."""
    return min(base_s * 2 ** max(attempts - 1, 0), max_s)


# ----------------------------------------------------------------------------------------------
# leases: who is delivering a row, and whether that process still exists

def _host_id() -> str:
    """This machine as lease holders name it: the host name and, on Linux, the pid namespace (two
    containers with the same host name must not judge each other's pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}{'/' + namespace if namespace else ''}"


def _start_ticks(pid: int) -> str | None:
    """Start time of process ``pid`` (clock ticks since boot, Linux ``/proc``), None if there is no such
    process or no /proc: with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name in () may contain spaces
    return fields[19] if len(fields) > 19 else None


def lease_holder(pid: int | None = None) -> str:
    """The lease-holder token of process ``pid`` (default: this one): ``host|pid|start time``."""
    pid = os.getpid() if pid is None else pid
    return f"{_host_id()}|{pid}|{_start_ticks(pid) or '-'}"


def holder_alive(holder: str) -> bool | None:
    """Whether the process that took a lease still exists: True / False on this machine, None when it
    cannot be told (another machine, an unreadable token): then only the lease's expiry frees the row."""
    head, _, started = holder.rpartition("|")
    host, _, pid_text = head.rpartition("|")
    if host != _host_id() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if started != "-":
        return _start_ticks(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def release_orphaned_leases(conn: sqlite3.Connection) -> int:
    """Free at once the rows claimed by processes of this machine that are gone (killed during a
    delivery); returns how many. Their holder stays recorded, which marks the rows as in doubt
    (a message may have gone out before the process died: see :func:`deliver`).

    Safe with several processes: a live holder (the pid exists with the same start time) keeps its
    rows; a holder on another machine is never judged by pid, only by its lease running out; and
    the release runs under the write lock, so two processes freeing the same rows free them once.
    """
    wall = ts(datetime.now(UTC))
    with transaction(conn):
        holders = [r[0] for r in conn.execute(
            "SELECT DISTINCT lease_owner FROM outbox WHERE status = 'pending' AND lease_owner IS NOT NULL "
            "AND lease_until > ?", (wall,))]
        gone = [h for h in holders if holder_alive(h) is False]
        released = 0
        for holder in gone:
            released += conn.execute("UPDATE outbox SET lease_until = NULL WHERE status = 'pending' AND "
                                     "lease_owner = ? AND lease_until > ?", (holder, wall)).rowcount
    if released:
        log.warning("took over %d notification(s) claimed by %d process(es) that are gone", released, len(gone))
    return released


def _logged_keys(path: Path) -> set[str]:
    """Idempotency keys of the messages already in a JSON-lines log (a torn or foreign line is skipped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise DeliveryError(f"{path}: {exc.strerror or exc}") from None
    keys = set()
    for match in _KEY_RE.finditer(data):
        try:
            keys.add(json.loads(match.group(1)))
        except ValueError:
            continue
    return keys


#: the key as :func:`enqueue` writes it into every body (json.dumps, default separators)
_KEY_RE = re.compile(rb'"idempotency_key": ("(?:[^"\\]|\\.)*")')


def _log_path(notifier: LogNotifier, base_dir: Path) -> Path:
    path = Path(notifier.path)
    return path if path.is_absolute() else base_dir / path


def deliver(conn: sqlite3.Connection, config: DispatchConfig, *, now: datetime,
            base_dir: str | Path | None = None, limit: int | None = None, batch: int = 500) -> DeliveryReport:
    """Send every outbox row that is due at ``now`` (at most ``limit``); record success, retry time
    or death per row. Rows are claimed ``batch`` at a time under a lease, so several processes can
    deliver side by side without sending the same row twice. ``base_dir`` anchors relative log
    paths (default: the database's folder).

    Leases run on the wall clock (``now`` may be a drill's clock) and name their holder
    (:func:`lease_holder`): rows claimed by a process of this machine that is gone are taken over at
    once (:func:`release_orphaned_leases`), others when their lease runs out. A row taken over is in
    doubt: its holder may have sent it before dying. A webhook or mail goes out again under the same
    idempotency key (the receiver recognises it); the log notifier first looks for the key in its
    file and, if the line is there, only records the row as sent. Only rows in doubt are looked up:
    a row nobody claimed before cannot be in the file, so the normal path never reads the log.

    Once a notifier fails in a pass for a reason that may pass (unreachable, timeout, 5xx), its
    other rows are not tried in that pass but deferred to its retry time: an unreachable gateway
    costs one timeout per pass, not one per message (300 tasks x 5 s would block the activation
    for 25 minutes).
    """
    settings = config.dispatch.delivery
    base = Path(base_dir) if base_dir is not None else Path(getattr(conn, "db_path", ".")).resolve().parent
    notifiers = {n.name: n for n in config.notifiers}
    now_s = ts(now)
    me = lease_holder()
    report = DeliveryReport()
    release_orphaned_leases(conn)
    down: dict[str, datetime] = {}  # notifier -> when to try it again
    logged: dict[Path, set[str]] = {}  # log file -> keys in it, read once per pass when a row is in doubt
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch if remaining is None else min(batch, remaining)
        wall = datetime.now(UTC)
        with transaction(conn):
            rows = [dict(r) for r in conn.execute(
                "SELECT id, idem_key, notifier, payload, attempts, lease_owner FROM outbox WHERE status = 'pending' "
                "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?",
                (now_s, ts(wall), size))]
            lease_until = ts(wall + timedelta(seconds=settings.lease_s))
            conn.executemany("UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id = ?",
                             [(lease_until, me, r["id"]) for r in rows])
        deferred: list[tuple[str, int]] = []
        for row in rows:
            if row["notifier"] in down:
                deferred.append((ts(down[row["notifier"]]), row["id"]))
                continue
            retry_at = _deliver_row(conn, row, notifiers, settings, base, now, report, logged)
            if retry_at is not None:
                down[row["notifier"]] = retry_at
        if deferred:
            with transaction(conn):
                conn.executemany("UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, lease_owner = NULL "
                                 "WHERE id = ?", deferred)
            report.deferred += len(deferred)
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < size:
            break
    report.still_pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    return report


def _deliver_row(conn: sqlite3.Connection, row: dict[str, Any], notifiers: dict[str, Any], settings: Any,
                 base: Path, now: datetime, report: DeliveryReport, logged: dict[Path, set[str]]) -> datetime | None:
    """Send one claimed row and record the outcome (sent / retry at backoff / dead); returns the
    retry time when the failure may pass (the notifier is then treated as down for this pass).
    ``logged`` caches the keys of log files read for rows in doubt."""
    body = row["payload"].encode("utf-8")
    notifier = notifiers.get(row["notifier"])
    in_doubt = row["lease_owner"] is not None  # an earlier claim never finished: it may have been sent
    if in_doubt:
        report.reclaimed += 1
    try:
        if notifier is None:
            raise DeliveryError(f"notifier {row['notifier']} is not in the configuration")
        if isinstance(notifier, WebhookNotifier):
            send_webhook(notifier, row["idem_key"], body)
        elif isinstance(notifier, LogNotifier):
            path = _log_path(notifier, base)
            if in_doubt and path not in logged:
                # the keys of the earlier holder's lines are all in the file by now: that process is
                # gone (or its lease ran out), and only the holder of a row's lease writes its line
                logged[path] = _logged_keys(path)
            if in_doubt and row["idem_key"] in logged[path]:
                report.already_logged += 1
            else:
                send_log(notifier, row["idem_key"], body, base)
        else:
            send_email(notifier, row["idem_key"], json.loads(row["payload"]))
    except (DeliveryError, ConfigError) as exc:
        permanent = getattr(exc, "permanent", False)
        attempts = row["attempts"] + 1
        dead = permanent or attempts >= settings.max_attempts
        retry_at = now + timedelta(seconds=backoff_s(attempts, settings.backoff_base_s, settings.backoff_max_s))
        with transaction(conn):
            conn.execute("UPDATE outbox SET attempts = ?, status = ?, last_error = ?, next_attempt_at = ?, "
                         "lease_until = NULL, lease_owner = NULL WHERE id = ?",
                         (attempts, "dead" if dead else "pending", str(exc)[:500], ts(retry_at), row["id"]))
        report.errors.append(f"{row['idem_key']}: {exc}")
        if dead:
            report.dead += 1
            log.error("notification %s dead after %d attempts: %s", row["idem_key"], attempts, exc)
        else:
            report.retrying += 1
        return None if permanent else retry_at
    with transaction(conn):
        conn.execute("UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                     "lease_until = NULL, lease_owner = NULL, last_error = NULL WHERE id = ?", (ts(now), row["id"]))
    report.sent += 1
    return None


def deliver_until_done(conn: sqlite3.Connection, config: DispatchConfig, *, wait_s: float,
                       base_dir: str | Path | None = None, poll_s: float = 0.5) -> DeliveryReport:
    """Deliver on the wall clock, retrying with the configured backoff, for at most ``wait_s`` seconds."""
    total = DeliveryReport()
    deadline = time.monotonic() + wait_s
    while True:
        step = deliver(conn, config, now=datetime.now(UTC), base_dir=base_dir)
        total.sent += step.sent
        total.dead += step.dead
        total.reclaimed += step.reclaimed
        total.already_logged += step.already_logged
        total.errors.extend(step.errors)
        total.retrying, total.deferred, total.still_pending = step.retrying, step.deferred, step.still_pending
        if step.still_pending == 0 or time.monotonic() >= deadline:
            return total
        nxt = conn.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'").fetchone()[0]
        pause = (parse_ts(nxt) - datetime.now(UTC)).total_seconds() if nxt else poll_s
        time.sleep(max(poll_s, min(pause, deadline - time.monotonic())))


def outbox_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per outbox status (pending / sent / dead)."""
    return {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")}
