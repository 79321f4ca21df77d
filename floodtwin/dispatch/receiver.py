"""A reference webhook receiver: checks the HMAC signature and recognises repeats by idempotency key.

What a gateway in front of the staff app must do with floodtwin's webhook, in ~100 lines of the
standard library: refuse unsigned, wrongly signed or stale (replayed) requests (401), accept each idempotency key once
and answer a repeat with 200 and ``"duplicate": true`` (so the sender stops retrying) without
acting on it again. Used by the tests as a real HTTP server on 127.0.0.1, and runnable on its own::

    python -m floodtwin.dispatch.receiver --port 8099 --secret-env FLOODTWIN_WEBHOOK_SECRET --out got.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from floodtwin.dispatch.notify import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

__all__ = ["WebhookReceiver", "main"]


class WebhookReceiver:
    """Threaded HTTP receiver on ``host:port`` (0 = any free port); ``accepted`` holds first deliveries."""

    def __init__(self, secret: bytes, host: str = "127.0.0.1", port: int = 0, out: str | Path | None = None,
                 delay_s: float = 0.0):
        self.secret = secret
        #: pause between recording a request and answering it (lets tests kill a sender mid-delivery)
        self.delay_s = delay_s
        self.accepted: list[dict[str, Any]] = []
        self.duplicates: list[str] = []
        self.rejected = 0
        self.out = Path(out) if out else None
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        if self.out is not None and self.out.exists():
            # a restarted receiver still recognises keys it accepted before
            for line in self.out.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if not rec.get("duplicate"):
                    self._seen.add(rec["key"])
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/notify"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get(IDEMPOTENCY_HEADER)
                signed = verify_signature(receiver.secret, body, self.headers.get(SIGNATURE_HEADER),
                                          self.headers.get(TIMESTAMP_HEADER))
                if not signed or not key:
                    with receiver._lock:
                        receiver.rejected += 1
                    self._answer(401, {"error": "bad signature or missing idempotency key"})
                    return
                with receiver._lock:
                    duplicate = key in receiver._seen
                    receiver._seen.add(key)
                    record = {"key": key, "duplicate": duplicate, "body": json.loads(body)}
                    if duplicate:
                        receiver.duplicates.append(key)
                    else:
                        receiver.accepted.append(record)
                    if receiver.out is not None:
                        with open(receiver.out, "a", encoding="utf-8") as fh:
                            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self._answer(200, {"ok": True, "duplicate": duplicate})

            def _answer(self, code: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender went away (crashed or timed out): it will retry under the same key

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

        return Handler

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--secret-env", default="FLOODTWIN_WEBHOOK_SECRET")
    parser.add_argument("--out", help="append every request as a JSON line to this file")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        raise SystemExit(f"error: environment variable {args.secret_env} is not set")
    receiver = WebhookReceiver(secret.encode(), args.host, args.port, args.out, args.delay)
    print(f"listening on {receiver.url}", flush=True)
    try:
        receiver.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.server.server_close()


if __name__ == "__main__":
    main()
