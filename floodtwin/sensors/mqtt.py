"""MQTT transport for smart-stone readings (paho-mqtt against a real broker such as Mosquitto).

Topic ``floodtwin/stones/<stone_id>/reading``, QoS 1, a persistent session (MQTT 3.1.1
``clean_session=False`` with a fixed client id: the broker queues readings while the subscriber
is away) and automatic reconnection with exponential backoff. Delivery is at least once and
nothing is acknowledged before it is committed: the subscriber uses manual acks, so a reading
the broker sent is PUBACKed only after the batch holding it is in the database (accepted or
quarantined). A redelivery after a crash or a broker restart is then a duplicate (stone, seq),
which validation quarantines instead of storing twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from floodtwin.errors import FeedError, InputError
from floodtwin.sensors import readings as rd
from floodtwin.sensors.ingest import Ingestor, Summary, gc_paused

log = logging.getLogger(__name__)

TOPIC_PREFIX = "floodtwin/stones/"
TOPIC_FILTER = "floodtwin/stones/+/reading"
QOS = 1


def topic_for(stone_id: str) -> str:
    """The MQTT topic a stone publishes its readings on."""
    return f"{TOPIC_PREFIX}{stone_id}/reading"


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to connect. ``tls`` with ``ca_file`` (and ``cert_file``/``key_file`` for
    client certificates); ``username``/``password`` for broker authentication; reconnection
    waits ``reconnect_min_s`` doubling up to ``reconnect_max_s``."""

    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str = "floodtwin-sensors"
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    connect_timeout_s: float = 30.0

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> "BrokerConfig":
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise InputError(f"{url}: expected mqtt://host:port or mqtts://host:port")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise InputError(f"{url}: invalid port") from None
        cfg = cls(host=parts.hostname, port=port, tls=tls,
                  username=unquote(parts.username) if parts.username else None,
                  password=unquote(parts.password) if parts.password else None)
        return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def make_client(cfg: BrokerConfig, *, client_id: str | None = None, manual_ack: bool = False):
    """A paho client with the persistent session, credentials, TLS and backoff of ``cfg``."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or cfg.client_id,
                         clean_session=False, protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password)
    if cfg.tls:
        try:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        except (OSError, ValueError) as exc:
            raise InputError(f"TLS settings: {exc}") from None
    client.reconnect_delay_set(min_delay=cfg.reconnect_min_s, max_delay=cfg.reconnect_max_s)
    client.max_queued_messages_set(0)  # never drop readings queued while the broker is away
    client.max_inflight_messages_set(100)
    return client


def _stone_of(topic: str) -> str | None:
    if topic.startswith(TOPIC_PREFIX) and topic.endswith("/reading"):
        middle = topic[len(TOPIC_PREFIX):-len("/reading")]
        return middle if middle and "/" not in middle else None
    return None


def decode_messages(topics: list[str], payloads: list[bytes]) -> tuple[list[Any], list[str]]:
    """Decode MQTT payloads into reading records (malformed markers for bad ones) and their raw
    text. A payload whose stone_id differs from its topic is malformed (it would misfile a stone)."""
    raws = [p.decode("utf-8", errors="backslashreplace") for p in payloads]
    objs = rd.decode_json_lines([r.replace("\n", " ") for r in raws])
    for i, (topic, obj) in enumerate(zip(topics, objs)):
        sid = _stone_of(topic)
        if sid is None:
            objs[i] = rd._Malformed(f"topic {topic!r} is not {TOPIC_FILTER}")
        elif type(obj) is dict and type(obj.get("stone_id")) is str and obj["stone_id"] != sid:
            objs[i] = rd._Malformed(f"stone_id {obj['stone_id']!r} does not match topic {topic!r}")
    return objs, raws


class Subscriber:
    """Subscribe to every stone's readings and ingest them in batches (what has arrived, at most
    ``batch_max`` messages, waiting up to ``flush_s`` for more: 0 by default, because batches form
    by themselves under load while the previous one is stored, and an alarm should not wait),
    acknowledging each message after its batch is committed. Every ``sweep_every_s`` seconds the ingestor's clock is applied, so a stone that
    falls silent goes offline (or lost, after a movement) without waiting for its next message.
    ``on_batch`` is called with each batch's (and sweep's) summary (progress, tests)."""

    def __init__(self, ingestor: Ingestor, cfg: BrokerConfig, *, batch_max: int = 2000, flush_s: float = 0.0,
                 sweep_every_s: float | None = 60.0, on_batch: Callable[[Summary], None] | None = None):
        self.ingestor = ingestor
        self.sweep_every_s = sweep_every_s
        self.cfg = cfg
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.on_batch = on_batch
        self._queue: queue.Queue = queue.Queue()
        self._connected = threading.Event()
        #: set once the broker has confirmed the subscription (readings published from then on reach us)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self.connects = 0
        self._refused: str | None = None
        self.client = make_client(cfg, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda client, userdata, mid, reason_codes, properties: self.ready.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            self._refused = str(reason_code)
            self._connected.set()
            return
        self._refused = None
        self.connects += 1
        client.subscribe(TOPIC_FILTER, qos=QOS)
        self._connected.set()
        log.info("connected to %s:%s (session present: %s)", self.cfg.host, self.cfg.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        log.info("disconnected from the broker (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self._queue.put((msg.topic, msg.payload, msg.mid, msg.qos))

    def stop(self) -> None:
        """Ask :meth:`run` to finish after its current batch."""
        self._stop.set()

    def run(self, *, max_messages: int | None = None, duration_s: float | None = None,
            idle_exit_s: float | None = None) -> Summary:
        """Connect and ingest until :meth:`stop`, ``max_messages`` received, ``duration_s`` elapsed
        or ``idle_exit_s`` without a message (after the first one). Returns the total summary."""
        total = Summary()
        client = self.client
        try:
            client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        except (OSError, ValueError) as exc:
            raise FeedError(f"mqtt {self.cfg.host}:{self.cfg.port}: {exc}") from None
        client.loop_start()
        try:
            if not self._connected.wait(self.cfg.connect_timeout_s):
                raise FeedError(f"mqtt {self.cfg.host}:{self.cfg.port}: no connection after "
                                f"{self.cfg.connect_timeout_s:g} s")
            if self._refused:
                raise FeedError(f"mqtt {self.cfg.host}:{self.cfg.port}: the broker refused the connection: "
                                f"{self._refused}")
            started = time.monotonic()
            last_msg = None
            last_sweep = time.monotonic()
            while not self._stop.is_set():
                if self.sweep_every_s is not None and time.monotonic() - last_sweep >= self.sweep_every_s:
                    last_sweep = time.monotonic()
                    swept = self.ingestor.sweep()
                    total.add(swept)
                    if self.on_batch and swept.events:
                        self.on_batch(swept)
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
                if idle_exit_s is not None and last_msg is not None and time.monotonic() - last_msg >= idle_exit_s:
                    break
                if max_messages is not None and total.received >= max_messages:
                    break
                items = self._collect()
                if not items:
                    continue
                last_msg = time.monotonic()
                topics, payloads, mids, qoss = zip(*items)
                with gc_paused():
                    objs, raws = decode_messages(list(topics), list(payloads))
                    summary = self.ingestor.ingest_batch(objs, raws, [f"mqtt:{t}" for t in topics])
                # acknowledge only what is committed: a crash before this line means redelivery
                for mid, qos in zip(mids, qoss):
                    if qos > 0:
                        client.ack(mid, qos)
                total.add(summary)
                if self.on_batch:
                    self.on_batch(summary)
        finally:
            client.disconnect()
            client.loop_stop()
        return total

    def _collect(self) -> list[tuple]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        items = [first]
        deadline = time.monotonic() + self.flush_s
        while len(items) < self.batch_max:
            try:
                items.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                items.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return items


def publish(cfg: BrokerConfig, messages: Iterable[tuple[str, str]], *, client_id: str = "floodtwin-publisher",
            rate_per_s: float | None = None, timeout_s: float = 60.0) -> int:
    """Publish ``(stone_id, payload)`` messages with QoS 1 on each stone's topic and wait until
    the broker has acknowledged every one (a persistent session: messages published while the
    broker is away are sent once it is back). Returns the number published."""
    import paho.mqtt.client as mqtt

    client = make_client(cfg, client_id=client_id)
    connected = threading.Event()
    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(c, userdata, mid, reason_code, properties):
        with lock:
            acked.add(mid)

    refused: list[str] = []

    def on_connect(c, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connected.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    except (OSError, ValueError) as exc:
        raise FeedError(f"mqtt {cfg.host}:{cfg.port}: {exc}") from None
    client.loop_start()
    mids: list[int] = []
    try:
        if not connected.wait(cfg.connect_timeout_s):
            raise FeedError(f"mqtt {cfg.host}:{cfg.port}: no connection after {cfg.connect_timeout_s:g} s")
        if refused:
            raise FeedError(f"mqtt {cfg.host}:{cfg.port}: the broker refused the connection: {refused[0]}")
        t0 = time.monotonic()
        for k, (stone_id, payload) in enumerate(messages):
            if rate_per_s:
                delay = t0 + k / rate_per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            # while the broker is away paho keeps QoS 1 messages (rc NO_CONN) and sends them on reconnect
            info = client.publish(topic_for(stone_id), payload, qos=QOS)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_QUEUE_SIZE):
                raise FeedError(f"mqtt publish to {topic_for(stone_id)} failed: {mqtt.error_string(info.rc)}")
            mids.append(info.mid)
        deadline = time.monotonic() + timeout_s
        while True:
            with lock:
                missing = len(set(mids) - acked)
            if not missing:
                break
            if time.monotonic() > deadline:
                raise FeedError(f"mqtt {cfg.host}:{cfg.port}: broker did not acknowledge {missing} of "
                                f"{len(mids)} messages in {timeout_s:g} s")
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return len(mids)
