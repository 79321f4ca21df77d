"""A real HTTP server on 127.0.0.1 (a free port, a thread) that serves feed bodies and faults, and the
bodies of each format for a Huayuankou series, for the alert-run tests."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FeedServer", "series", "sl323_csv", "sl323_json", "waterml2", "sensorthings_pages", "plain_csv",
           "XML_BOMB"]

LOCAL = timezone(timedelta(hours=8))

XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<wml2:Collection xmlns:wml2="http://www.opengis.net/waterml/2.0">&lol4;</wml2:Collection>"""


class FeedServer:
    """``routes[path] = dict(status=200, body=b"", delay_s=0, truncate=False, fail_first=0, content_type=...)``
    (``fail_first``: the first n requests get HTTP 503); ``hits[path]`` counts the requests,
    ``headers[path]`` keeps the last request's headers. ``tls=(certfile, keyfile)`` serves HTTPS."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.routes: dict[str, dict[str, Any]] = {}
        self.hits: dict[str, int] = {}
        self.headers: dict[str, dict[str, str]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path = self.path
                server.hits[path] = server.hits.get(path, 0) + 1
                server.headers[path] = dict(self.headers)
                spec = server.routes.get(path)
                if spec is None:
                    self.send_error(404)
                    return
                if server.hits[path] <= spec.get("fail_first", 0):
                    self.send_error(503, "try again")
                    return
                if spec.get("delay_s"):
                    time.sleep(spec["delay_s"])
                body = spec.get("body", b"")
                self.send_response(spec.get("status", 200))
                self.send_header("Content-Type", spec.get("content_type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(body) * 2 if spec.get("truncate") else len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                if spec.get("truncate"):
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "FeedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def series(now: datetime, flows: dict[str, list[float]], step_h: float = 24.0) -> list[tuple[str, datetime, float]]:
    """(station code, time, discharge) rows: each station's flows, the last at ``now`` rounded down to
    the hour, the others ``step_h`` apart before it."""
    end = now.replace(minute=0, second=0, microsecond=0)
    out = []
    for code, values in flows.items():
        n = len(values)
        out.extend((code, end - timedelta(hours=step_h * (n - 1 - i)), v) for i, v in enumerate(values))
    return out


def _tm(t: datetime) -> str:
    return t.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def sl323_csv(rows: list[tuple[str, datetime, float]]) -> bytes:
    lines = ["STCD,TM,Z,Q,WPTN"] + [f"{c},{_tm(t)},,{q:g},6" for c, t, q in rows]
    return ("\n".join(lines) + "\n").encode()


def sl323_json(rows: list[tuple[str, datetime, float]]) -> bytes:
    return json.dumps({"ST_RIVER_R": [{"STCD": c, "TM": _tm(t), "Q": q, "WPTN": "6"} for c, t, q in rows]}).encode()


def plain_csv(rows: list[tuple[str, datetime, float]]) -> bytes:
    lines = ["station,time,discharge_m3s"] + [f"{c},{t.isoformat()},{q:g}" for c, t, q in rows]
    return ("\n".join(lines) + "\n").encode()


def waterml2(rows: list[tuple[str, datetime, float]], uom: str = "m3/s") -> bytes:
    by: dict[str, list[tuple[datetime, float]]] = {}
    for c, t, q in rows:
        by.setdefault(c, []).append((t, q))
    members = []
    for c, pts in by.items():
        points = "".join(f"<wml2:point><wml2:MeasurementTVP><wml2:time>{t.isoformat()}</wml2:time>"
                         f"<wml2:value>{q:g}</wml2:value></wml2:MeasurementTVP></wml2:point>" for t, q in pts)
        members.append(
            f'<wml2:observationMember><om:OM_Observation gml:id="obs-{c}">'
            f'<om:observedProperty xlink:href="http://vocab.example.org/discharge" xlink:title="Discharge"/>'
            f'<om:featureOfInterest xlink:href="http://stations.example.org/{c}" xlink:title="{c}"/>'
            f'<om:result><wml2:MeasurementTimeseries gml:id="ts-{c}"><wml2:defaultPointMetadata>'
            f'<wml2:DefaultTVPMeasurementMetadata><wml2:uom code="{uom}"/></wml2:DefaultTVPMeasurementMetadata>'
            f'</wml2:defaultPointMetadata>{points}</wml2:MeasurementTimeseries></om:result>'
            f'</om:OM_Observation></wml2:observationMember>')
    return ('<?xml version="1.0" encoding="UTF-8"?><wml2:Collection xmlns:wml2="http://www.opengis.net/waterml/2.0" '
            'xmlns:om="http://www.opengis.net/om/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" gml:id="c1">' + "".join(members)
            + "</wml2:Collection>").encode()


def sensorthings_pages(rows: list[tuple[str, datetime, float]], server: FeedServer, base: str,
                       per_page: int = 3) -> dict[str, bytes]:
    """Paged Observations with expanded Datastreams: path -> body; the first page at ``base``."""
    obs = [{"phenomenonTime": t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"), "result": q,
            "Datastream": {"name": f"{c} discharge", "unitOfMeasurement": {"symbol": "m3/s"},
                           "ObservedProperty": {"name": "Discharge"},
                           "Thing": {"name": c, "properties": {"stcd": c}}}} for c, t, q in rows]
    pages = [obs[i:i + per_page] for i in range(0, len(obs), per_page)]
    out = {}
    for i, page in enumerate(pages):
        path = base if i == 0 else f"{base}&$skip={i * per_page}"
        doc: dict[str, Any] = {"value": page}
        if i + 1 < len(pages):
            doc["@iot.nextLink"] = server.url(f"{base}&$skip={(i + 1) * per_page}")
        out[path] = json.dumps(doc).encode()
    return out
