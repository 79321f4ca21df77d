"""One alert run at a time: an advisory lock on a file next to the database.

The lock is ``fcntl.flock`` on the file: the kernel releases it when its process ends however it
ends (SIGKILL, a power cut of the process), so a crashed run can never leave it held. The file
also names its holder (host, pid, process start, time); a run that finds the name of a holder whose
lock is free knows that run died and says so, and takes the lock over. A second run while the first
still holds it does nothing and says who holds it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from floodtwin.errors import DataError, FloodtwinError

__all__ = ["RunLocked", "RunLock"]

log = logging.getLogger(__name__)


class RunLocked(FloodtwinError):
    """Another alert run holds the lock (exit 1: nothing was done, by design)."""

    exit_code = 1


class RunLock:
    """Context manager: the run's lock on ``path``. ``taken_over`` names the holder of a crashed run
    whose lock this one took over (None if the last run let go cleanly)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.fd: int | None = None
        self.taken_over: dict[str, Any] | None = None

    def __enter__(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot open the run lock: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            who = (f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
                   if holder else "another process")
            raise RunLocked(f"another alert run holds {self.path} ({who}); this run did nothing") from None
        previous = _read(fd)
        if previous and not previous.get("released"):
            self.taken_over = previous
            log.warning("run lock %s: the run of pid %s on %s (since %s) ended without letting go "
                        "(crashed or killed); taking over", self.path, previous.get("pid"), previous.get("host"),
                        previous.get("since"))
        _write(fd, {"host": socket.gethostname(), "pid": os.getpid(),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"), "released": False})
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is None:
            return
        holder = _read(self.fd) or {}
        _write(self.fd, {**holder, "released": True})
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def _read(fd: int) -> dict[str, Any] | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    try:
        doc = json.loads(data.decode("utf-8")) if data.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _write(fd: int, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, body, 0)
    os.fsync(fd)
