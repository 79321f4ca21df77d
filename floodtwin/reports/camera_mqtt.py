"""Camera events over MQTT (paho-mqtt, the smart stones' broker settings): topic
``floodtwin/cameras/<camera_id>/event``, QoS 1, a persistent MQTT 5 session, and each message
acknowledged only after the transaction that stores it has committed (a redelivery is then an
identical event, counted as a duplicate, never stored twice)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from floodtwin.reports.cameras import CameraSummary, receive_events
from floodtwin.sensors.mqtt import QOS, BrokerConfig, _Connack, connect_first, make_client

__all__ = ["CAMERA_TOPIC_PREFIX", "CAMERA_TOPIC_FILTER", "camera_topic", "CameraSubscriber"]

log = logging.getLogger(__name__)

CAMERA_TOPIC_PREFIX = "floodtwin/cameras/"
CAMERA_TOPIC_FILTER = "floodtwin/cameras/+/event"


def camera_topic(camera_id: str) -> str:
    """The topic a camera's analytics publish on."""
    return f"{CAMERA_TOPIC_PREFIX}{camera_id}/event"


class CameraSubscriber:
    """Subscribe to every camera's events and receive them (``receive_kw`` go to
    :func:`~floodtwin.reports.cameras.receive_events`: the database connection's clock, index,
    rules ...), acknowledging each message after it is stored; ``on_summary`` gets each message's
    summary (the orchestrator's answer to dike-toe water, progress, tests)."""

    def __init__(self, conn: Any, cfg: BrokerConfig, *, clock: Callable[[], Any],
                 on_summary: Callable[[CameraSummary], None] | None = None, **receive_kw: Any):
        self.conn = conn
        self.cfg = cfg
        self.clock = clock
        self.on_summary = on_summary
        self.receive_kw = receive_kw
        self._queue: queue.Queue = queue.Queue()
        self._connack = _Connack(cfg)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self.client = make_client(cfg, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, f, rc, p: self._connack.on_disconnect()
        self.client.on_message = lambda c, u, msg: self._queue.put((msg.topic, msg.payload, msg.mid, msg.qos))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.ready.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connack.on_connect(reason_code):
            client.subscribe(CAMERA_TOPIC_FILTER, qos=QOS)

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, max_messages: int | None = None, duration_s: float | None = None,
            idle_exit_s: float | None = None) -> CameraSummary:
        """Receive until :meth:`stop`, ``max_messages``, ``duration_s`` or ``idle_exit_s`` without a message
        (after the first); returns the total."""
        total = CameraSummary()
        client = self.client
        connect_first(client, self.cfg)
        client.loop_start()
        try:
            self._connack.wait()
            started, last = time.monotonic(), None
            while not self._stop.is_set():
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
                if idle_exit_s is not None and last is not None and time.monotonic() - last >= idle_exit_s:
                    break
                if max_messages is not None and total.received >= max_messages:
                    break
                try:
                    topic, payload, mid, qos = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                last = time.monotonic()
                raw = payload.decode("utf-8", errors="backslashreplace")
                summary = receive_events(self.conn, [(raw, f"mqtt:{topic}")], now=self.clock(), **self.receive_kw)
                if qos > 0:  # acknowledged only once stored
                    client.ack(mid, qos)
                if self.on_summary:
                    self.on_summary(summary)
                _add(total, summary)
        finally:
            client.disconnect()
            client.loop_stop()
        return total


def _add(total: CameraSummary, s: CameraSummary) -> None:
    total.received += s.received
    total.accepted += s.accepted
    total.duplicates += s.duplicates
    for name in ("rejected", "events", "tasks_created", "toe_water", "crowds", "mode_switches"):
        getattr(total, name).extend(getattr(s, name))
