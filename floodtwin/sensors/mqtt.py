"""MQTT transport for smart-stone readings (paho-mqtt against a real broker such as Mosquitto).

Topic ``floodtwin/stones/<stone_id>/reading``, QoS 1, MQTT 5 with a persistent session (a fixed
client id, ``clean_start`` off and a session that never expires: the broker keeps the subscription
and queues readings while the subscriber is away) and automatic reconnection with exponential
backoff. Delivery is at least once and nothing is acknowledged before it is committed: the
subscriber uses manual acks, so a reading the broker sent is PUBACKed only after the batch holding
it is in the database (accepted or quarantined). A redelivery after a crash or a broker restart is
then an identical reading, counted as already stored instead of stored twice.

**Bursts.** A broker keeps at most so many unacknowledged messages in flight to a client and
queues the rest, up to a limit per client beyond which it drops them silently (Mosquitto: 20 in
flight to an MQTT 3.1.1 client, ``max_queued_messages`` 1000 queued). Acknowledging after the
commit, the subscriber used to get 20 readings per transaction, fell behind a publisher at full
speed, and a burst of 3,000 to 10,000 readings lost everything beyond the queue. The subscriber
therefore announces the largest MQTT 5 *receive maximum* (:data:`RECEIVE_MAXIMUM`): the broker
sends everything into flight at once, the readings wait in the subscriber's memory, not in the
broker's queue, and form batches of up to ``batch_max`` readings per transaction. While the
subscriber is *away*, its readings can only wait in the broker's queue: production brokers must not
limit it (``max_queued_messages 0``; see docs/sensors.md).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from floodtwin.errors import FeedError, InputError
from floodtwin.sensors import readings as rd
from floodtwin.sensors.ingest import Ingestor, Summary, gc_paused

__all__ = ["TOPIC_PREFIX", "TOPIC_FILTER", "QOS", "RECEIVE_MAXIMUM", "SESSION_NEVER_EXPIRES", "PUBLISH_INFLIGHT",
           "topic_for", "BrokerConfig", "make_client", "connect_first", "decode_messages", "Subscriber", "publish"]

log = logging.getLogger(__name__)

TOPIC_PREFIX = "floodtwin/stones/"
TOPIC_FILTER = "floodtwin/stones/+/reading"
QOS = 1
#: the most unacknowledged QoS 1 messages MQTT 5 lets a client announce it takes (2 bytes, MQTT 5.0 §3.1.2.11.3)
RECEIVE_MAXIMUM = 65535
#: MQTT 5 session expiry interval meaning "never" (0xFFFFFFFF s, §3.1.2.11.2): a persistent session
SESSION_NEVER_EXPIRES = 0xFFFFFFFF
#: the publisher's window of unacknowledged messages: MQTT 5 forbids more than the broker's receive maximum
#: (Mosquitto announces its max_inflight_messages, 20 by default), and paho neither follows the broker's
#: value nor lets it be changed on an open connection
PUBLISH_INFLIGHT = 20


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
    """A paho MQTT 5 client with the credentials, TLS and backoff of ``cfg``; the persistent session
    and the receive maximum are in the CONNECT that :func:`connect_first` sends."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or cfg.client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password)
    if cfg.tls:
        for what, name in (("CA certificate", cfg.ca_file), ("client certificate", cfg.cert_file),
                           ("client key", cfg.key_file)):
            if name is not None and not os.path.isfile(name):
                raise InputError(f"TLS {what} {name}: file not found")
        try:
            client.tls_set(ca_certs=cfg.ca_file, certfile=cfg.cert_file, keyfile=cfg.key_file)
        except (OSError, ValueError) as exc:
            raise InputError(f"TLS settings: {exc}") from None
    client.reconnect_delay_set(min_delay=cfg.reconnect_min_s, max_delay=cfg.reconnect_max_s)
    client.connect_timeout = max(0.1, min(5.0, cfg.connect_timeout_s))  # one TCP/TLS attempt
    client.max_queued_messages_set(0)  # never drop readings queued while the broker is away
    client.max_inflight_messages_set(PUBLISH_INFLIGHT)
    return client


def _connect_properties():
    """CONNECT properties: a session that outlives the connection, and every message in flight at once."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_NEVER_EXPIRES
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return props



def _failure(exc: OSError, host: str, tls: bool) -> tuple[str, bool]:
    """What a failed connection attempt says, in words, and whether trying again can help
    (a refused or timed-out connection can: the broker may be starting; a TLS error or a host
    name that does not exist cannot)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate is not accepted ({exc.verify_message or exc.reason})", False
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}; is it a TLS port, are the certificates right?)", False
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {host!r} ({exc.strerror})", exc.errno != socket.EAI_NONAME
    if tls and isinstance(exc, ConnectionResetError):
        return "the connection was reset during the TLS handshake (is it a TLS port?)", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running on this port?)", True
    if isinstance(exc, TimeoutError):
        return "connection attempt timed out", True
    return exc.strerror or str(exc) or type(exc).__name__, True


def connect_first(client, cfg: BrokerConfig) -> None:
    """Open the first connection in the caller's thread, so that a wrong address, port or TLS
    setting ends in a FeedError that names the cause; transient failures (refused, timed out) are
    retried with the backoff of ``cfg`` until ``connect_timeout_s``. Later reconnections are
    paho's network loop's, with the same backoff."""
    where = f"mqtt {cfg.host}:{cfg.port}"
    deadline = time.monotonic() + cfg.connect_timeout_s
    delay = cfg.reconnect_min_s
    while True:
        try:
            # clean_start off and the properties are kept by paho for its reconnections too
            client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False,
                           properties=_connect_properties())
            return
        except OSError as exc:  # ssl.SSLError and socket.gaierror are OSErrors
            cause, transient = _failure(exc, cfg.host, cfg.tls)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        if not transient:
            raise FeedError(f"{where}: {cause}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise FeedError(f"{where}: no connection after {cfg.connect_timeout_s:g} s: {cause}")
        log.info("%s: %s; trying again in %.1f s", where, cause, min(delay, left))
        time.sleep(min(delay, left))
        delay = min(2 * delay, cfg.reconnect_max_s)


class _Connack:
    """The broker's answer to the first CONNECT: waits for it and says why it did not come."""

    def __init__(self, cfg: BrokerConfig):
        self.cfg = cfg
        self.answered = threading.Event()
        self.refused: str | None = None
        self.accepted = False
        self.dropped = False

    def on_connect(self, reason_code) -> bool:
        """Record an answer; True when the broker accepted the connection."""
        self.refused = str(reason_code) if reason_code.is_failure else None
        self.accepted = self.accepted or not reason_code.is_failure
        self.answered.set()
        return not reason_code.is_failure

    def on_disconnect(self) -> None:
        """Record a connection dropped before the broker ever answered."""
        if not self.accepted:
            self.dropped = True

    def wait(self) -> None:
        """Return once accepted; FeedError if refused or unanswered after ``connect_timeout_s``."""
        where = f"mqtt {self.cfg.host}:{self.cfg.port}"
        if not self.answered.wait(self.cfg.connect_timeout_s):
            why = ("the broker closed the connection without answering (a TLS port reached without mqtts://, "
                   "or one that wants a client certificate?)" if self.dropped else "the broker did not answer")
            raise FeedError(f"{where}: no connection after {self.cfg.connect_timeout_s:g} s: {why}")
        if self.refused:
            raise FeedError(f"{where}: the broker refused the connection: {self.refused}")


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
    ``on_batch`` is called with each batch's (and sweep's) summary: the alarms' answer
    (:class:`floodtwin.alerts.StoneAlarmAnswer`), progress, tests."""

    def __init__(self, ingestor: Ingestor, cfg: BrokerConfig, *, batch_max: int = 2000, flush_s: float = 0.0,
                 sweep_every_s: float | None = 60.0, on_batch: Callable[[Summary], None] | None = None):
        self.ingestor = ingestor
        self.sweep_every_s = sweep_every_s
        self.cfg = cfg
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.on_batch = on_batch
        self._queue: queue.Queue = queue.Queue()
        self._connack = _Connack(cfg)
        #: set once the broker has confirmed the subscription (readings published from then on reach us)
        self.ready = threading.Event()
        self._stop = threading.Event()
        self.connects = 0
        self.client = make_client(cfg, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda client, userdata, mid, reason_codes, properties: self.ready.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._connack.on_connect(reason_code):
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.connects += 1
        client.subscribe(TOPIC_FILTER, qos=QOS)
        log.info("connected to %s:%s (session present: %s)", self.cfg.host, self.cfg.port, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack.on_disconnect()
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
        connect_first(client, self.cfg)
        client.loop_start()
        try:
            self._connack.wait()
            started = time.monotonic()
            last_msg = None
            last_sweep = time.monotonic()
            while not self._stop.is_set():
                if self.sweep_every_s is not None and time.monotonic() - last_sweep >= self.sweep_every_s:
                    last_sweep = time.monotonic()
                    swept = self.ingestor.sweep()
                    if self.on_batch and swept.events:
                        self.on_batch(swept)
                    total.add(swept)
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
                if self.on_batch:  # before the total takes it: the callback may add to it (the alarms' tasks)
                    self.on_batch(summary)
                total.add(summary)
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
            rate_per_s: float | None = None, timeout_s: float = 60.0,
            topic: Callable[[str], str] | None = None) -> int:
    """Publish ``(stone_id, payload)`` messages with QoS 1 on each stone's topic (``topic`` maps the
    id to another topic, e.g. a camera's) and wait until the broker has acknowledged every one (a
    persistent session: messages published while the broker is away are sent once it is back).
    Returns the number published."""
    to_topic = topic or topic_for
    import paho.mqtt.client as mqtt

    client = make_client(cfg, client_id=client_id)
    connack = _Connack(cfg)
    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(c, userdata, mid, reason_code, properties):
        with lock:
            acked.add(mid)

    client.on_connect = lambda c, userdata, flags, reason_code, properties: connack.on_connect(reason_code)
    client.on_disconnect = lambda c, userdata, flags, reason_code, properties: connack.on_disconnect()
    client.on_publish = on_publish
    connect_first(client, cfg)
    client.loop_start()
    mids: list[int] = []
    try:
        connack.wait()
        t0 = time.monotonic()
        for k, (stone_id, payload) in enumerate(messages):
            if rate_per_s:
                delay = t0 + k / rate_per_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            # while the broker is away paho keeps QoS 1 messages (rc NO_CONN) and sends them on reconnect
            info = client.publish(to_topic(stone_id), payload, qos=QOS)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_QUEUE_SIZE):
                raise FeedError(f"mqtt publish to {to_topic(stone_id)} failed: {mqtt.error_string(info.rc)}")
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
