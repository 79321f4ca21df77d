"""Notifications: an outbox written with the state change, delivered afterwards, each exactly keyed.

A state change (dispatch, escalation, stand-down, push, danger report) writes its outbox rows in
the *same* transaction (:func:`enqueue`; a grouped message, the tick's escalation digests:
:func:`enqueue_digests`), so a crash can lose neither the change nor its message.
:func:`deliver` sends what is due, one row at a time: it first leases the rows (so two processes
never send the same row at once), then sends, then records the outcome. A failed send is retried
with exponential backoff; after ``max_attempts`` the row is kept as ``dead``. Every row carries a
deterministic idempotency key (notifier, message kind, event id, recipient): if a process dies
after sending but before recording, the rerun sends again under the *same* key and the receiver
recognises the duplicate. Notifiers: webhook (JSON POST, timeout, ``Idempotency-Key`` header,
``X-Floodtwin-Timestamp`` and ``X-Floodtwin-Signature: sha256=<HMAC of "timestamp." + body>``), a
JSON-lines log file, and SMTP e-mail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
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
           "send_log", "send_email", "DeliveryReport", "backoff_s", "deliver", "deliver_until_done",
           "outbox_counts", "enqueue_digests"]

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
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retrying": self.retrying, "dead": self.dead, "deferred": self.deferred,
                "still_pending": self.still_pending, "errors": self.errors[:20]}


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Wait after the ``attempts``-th failure: base, 2·base, 4·base ... capped at ``max_s``."""
    return min(base_s * 2 ** max(attempts - 1, 0), max_s)


def deliver(conn: sqlite3.Connection, config: DispatchConfig, *, now: datetime,
            base_dir: str | Path | None = None, limit: int | None = None, batch: int = 500) -> DeliveryReport:
    """Send every outbox row that is due at ``now`` (at most ``limit``); record success, retry time
    or death per row. Rows are claimed ``batch`` at a time under a lease, so several processes can
    deliver side by side without sending the same row twice. ``base_dir`` anchors relative log
    paths (default: the database's folder).

    Once a notifier fails in a pass for a reason that may pass (unreachable, timeout, 5xx), its
    other rows are not tried in that pass but deferred to its retry time: an unreachable gateway
    costs one timeout per pass, not one per message (300 tasks x 5 s would block the activation
    for 25 minutes).
    """
    settings = config.dispatch.delivery
    base = Path(base_dir) if base_dir is not None else Path(getattr(conn, "db_path", ".")).resolve().parent
    notifiers = {n.name: n for n in config.notifiers}
    now_s = ts(now)
    lease_s = ts(now + timedelta(seconds=settings.lease_s))
    report = DeliveryReport()
    down: dict[str, datetime] = {}  # notifier -> when to try it again
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch if remaining is None else min(batch, remaining)
        with transaction(conn):
            rows = [dict(r) for r in conn.execute(
                "SELECT id, idem_key, notifier, payload, attempts FROM outbox WHERE status = 'pending' "
                "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?",
                (now_s, now_s, size))]
            conn.executemany("UPDATE outbox SET lease_until = ? WHERE id = ?", [(lease_s, r["id"]) for r in rows])
        deferred: list[tuple[str, int]] = []
        for row in rows:
            if row["notifier"] in down:
                deferred.append((ts(down[row["notifier"]]), row["id"]))
                continue
            retry_at = _deliver_row(conn, row, notifiers, settings, base, now, report)
            if retry_at is not None:
                down[row["notifier"]] = retry_at
        if deferred:
            with transaction(conn):
                conn.executemany("UPDATE outbox SET next_attempt_at = ?, lease_until = NULL WHERE id = ?", deferred)
            report.deferred += len(deferred)
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < size:
            break
    report.still_pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    return report


def _deliver_row(conn: sqlite3.Connection, row: dict[str, Any], notifiers: dict[str, Any], settings: Any,
                 base: Path, now: datetime, report: DeliveryReport) -> datetime | None:
    """Send one claimed row and record the outcome (sent / retry at backoff / dead); returns the
    retry time when the failure may pass (the notifier is then treated as down for this pass)."""
    body = row["payload"].encode("utf-8")
    notifier = notifiers.get(row["notifier"])
    try:
        if notifier is None:
            raise DeliveryError(f"notifier {row['notifier']} is not in the configuration")
        if isinstance(notifier, WebhookNotifier):
            send_webhook(notifier, row["idem_key"], body)
        elif isinstance(notifier, LogNotifier):
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
                         "lease_until = NULL WHERE id = ?",
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
                     "lease_until = NULL, last_error = NULL WHERE id = ?", (ts(now), row["id"]))
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
