"""Feed sources over real HTTP(S) on 127.0.0.1: retries with backoff, no retry on 4xx, the timeout of
a server that hangs, the auth header from the environment, TLS verification on (a self-signed
server is refused unless its certificate is the configured CA)."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from feed_server import FeedServer, series, sl323_csv
from floodtwin.errors import ConfigError
from floodtwin.feeds import FeedsConfig, read_source

NOW = datetime(2026, 7, 20, 8, 5, tzinfo=timezone(timedelta(hours=8)))
BODY = sl323_csv(series(NOW, {"40105150": [4000.0, 4200.0]}))
STATIONS = [{"id": "HYK", "stcd": "40105150", "name_zh": "花园口", "name_en": "Huayuankou", "role": "target"}]


def feeds(url: str, **src) -> FeedsConfig:
    return FeedsConfig(stations=STATIONS, sources=[{"name": "hyk", "format": "sl323_csv", "url": url,
                                                    "timeout_s": 0.5, "retries": 2, "backoff_s": 0.05, **src}])


@pytest.fixture(scope="module")
def server():
    with FeedServer() as srv:
        yield srv


def test_retries_with_backoff_then_succeeds(server):
    server.routes["/flaky"] = {"body": BODY, "fail_first": 2}
    cfg = feeds(server.url("/flaky"))
    result = read_source(cfg.sources[0], cfg)
    assert result.error is None and server.hits["/flaky"] == 3
    assert list(result.observations["value"]) == [4000.0, 4200.0]


def test_all_attempts_failing_names_the_last_reason(server):
    server.routes["/down"] = {"status": 502, "body": b"bad gateway"}
    cfg = feeds(server.url("/down"))
    result = read_source(cfg.sources[0], cfg)
    assert server.hits["/down"] == 3 and "HTTP 502" in result.error and "3 attempt(s)" in result.error
    assert result.observations.empty


def test_client_error_is_not_retried(server):
    server.routes["/gone"] = {"status": 404, "body": b"no"}
    cfg = feeds(server.url("/gone"))
    result = read_source(cfg.sources[0], cfg)
    assert server.hits["/gone"] == 1 and "HTTP 404" in result.error and "not retried" in result.error


def test_a_hanging_server_costs_the_timeout_not_the_run(server):
    server.routes["/hang"] = {"body": BODY, "delay_s": 3.0}
    cfg = feeds(server.url("/hang"), retries=1)
    t = time.monotonic()
    result = read_source(cfg.sources[0], cfg)
    waited = time.monotonic() - t
    assert "timed out" in result.error
    assert waited < 2.5, f"{waited:.1f} s: two attempts of 0.5 s should not wait for the 3 s answer"


def test_auth_header_comes_from_the_environment(server, monkeypatch):
    server.routes["/auth"] = {"body": BODY}
    cfg = feeds(server.url("/auth"), auth={"name": "Authorization", "env": "FT_TEST_TOKEN", "prefix": "Bearer "})
    with pytest.raises(ConfigError, match="FT_TEST_TOKEN is not set"):  # a configuration mistake, not a feed fault
        read_source(cfg.sources[0], cfg)
    assert "/auth" not in server.hits  # refused before any request
    monkeypatch.setenv("FT_TEST_TOKEN", "s3cret")
    result = read_source(cfg.sources[0], cfg)
    assert result.error is None and server.headers["/auth"]["Authorization"] == "Bearer s3cret"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    with FeedServer(tls=(str(cert), str(key))) as srv:
        srv.routes["/hyk"] = {"body": BODY}
        yield srv, cert


def test_tls_verification_refuses_an_unknown_certificate(tls_server):
    srv, cert = tls_server
    cfg = feeds(srv.url("/hyk"), retries=0)
    result = read_source(cfg.sources[0], cfg)
    assert result.error is not None and "TLS verification failed" in result.error


def test_tls_with_the_providers_ca_file(tls_server):
    srv, cert = tls_server
    cfg = feeds(srv.url("/hyk"), ca_file=str(cert))
    result = read_source(cfg.sources[0], cfg)
    assert result.error is None and len(result.observations) == 2


def test_sensorthings_paging_stays_on_its_server(server):
    import json

    page = {"value": [{"phenomenonTime": "2026-07-20T00:00:00Z", "result": 4100}],
            "@iot.nextLink": "http://203.0.113.9/v1.1/Observations?$skip=1"}  # another host (never contacted)
    server.routes["/sta?$top=1"] = {"body": json.dumps(page).encode()}
    cfg = FeedsConfig(stations=STATIONS, sources=[{"name": "sta", "format": "sensorthings", "station": "HYK",
                                                   "variable": "discharge", "url": server.url("/sta?$top=1")}])
    result = read_source(cfg.sources[0], cfg)
    assert "leaves" in result.error and "refused" in result.error
