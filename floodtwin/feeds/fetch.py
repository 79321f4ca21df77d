"""Reading a feed: a file or an HTTP(S) URL, with timeouts, retries with backoff, a User-Agent, an
optional auth header and TLS verification on; SensorThings pages followed through ``@iot.nextLink``.

HTTP goes through ``requests``. Each attempt has a total deadline of ``timeout_s`` (the body is
streamed and the clock checked between chunks, so a server that trickles bytes cannot hold the run)
and a size limit. Connection failures, timeouts, truncated bodies and 5xx answers are retried
``retries`` times after ``backoff_s`` × 2^k seconds; a 4xx answer is not (asking again will not help).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from floodtwin.errors import FeedError
from floodtwin.feeds.formats import PARSERS, normalise, parse_sensorthings
from floodtwin.feeds.model import FeedsConfig, SourceSpec, empty_observations

__all__ = ["fetch_bytes", "read_source", "read_feeds", "FeedResult"]

log = logging.getLogger(__name__)


class _Retryable(Exception):
    """A failure that may pass (connection, timeout, truncated body, 5xx)."""


def _get_once(session: Any, url: str, src: SourceSpec, headers: dict[str, str]) -> bytes:
    import requests

    started = time.monotonic()
    try:
        with session.get(url, headers=headers, timeout=(src.timeout_s, src.timeout_s), stream=True,
                         verify=str(src.ca_file) if src.ca_file is not None and src.verify_tls else src.verify_tls,
                         allow_redirects=True) as resp:
            if url.lower().startswith("https://") and not resp.url.lower().startswith("https://"):
                raise FeedError(f"feed {src.name}: {url}: redirected to {resp.url}, off TLS (refused)")
            if resp.status_code >= 500:
                raise _Retryable(f"HTTP {resp.status_code} {resp.reason}")
            if resp.status_code >= 400:
                raise FeedError(f"feed {src.name}: {url}: HTTP {resp.status_code} {resp.reason} (not retried)")
            chunks, size = [], 0
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > src.max_bytes:
                    raise FeedError(f"feed {src.name}: {url}: answer larger than {src.max_bytes:,} bytes")
                if time.monotonic() - started > src.timeout_s:
                    raise _Retryable(f"no complete answer within {src.timeout_s:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.exceptions.SSLError as exc:
        raise FeedError(f"feed {src.name}: {url}: TLS verification failed ({type(exc).__name__})") from None
    except (requests.exceptions.Timeout,) as exc:
        raise _Retryable(f"timed out after {src.timeout_s:g} s ({type(exc).__name__})") from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise _Retryable(f"truncated body ({type(exc).__name__})") from None
    except requests.exceptions.ConnectionError as exc:
        cause = str(exc.args[0]) if exc.args else type(exc).__name__
        if "IncompleteRead" in cause or "Connection broken" in cause:
            raise _Retryable("truncated body (connection broken mid-answer)") from None
        raise _Retryable(f"cannot connect ({type(exc).__name__})") from None
    except requests.exceptions.RequestException as exc:
        raise FeedError(f"feed {src.name}: {url}: {type(exc).__name__}: {exc}") from None


def fetch_bytes(src: SourceSpec, *, url: str | None = None, user_agent: str = "floodtwin",
                session: Any = None) -> bytes:
    """The bytes of ``src`` (its file, or ``url`` / its URL over HTTP(S)); FeedError with the last
    reason once the retries are spent."""
    if src.path is not None and url is None:
        path = Path(src.path)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise FeedError(f"feed {src.name}: {path}: {exc.strerror or exc}") from None
    import requests

    url = url or src.url
    headers = {"User-Agent": user_agent, "Accept": "*/*"}
    if src.auth is not None:
        headers[src.auth.name] = src.auth.value()
    if not src.verify_tls:
        log.warning("feed %s: TLS verification is off (verify_tls: false)", src.name)
    own = session is None
    session = session or requests.Session()
    try:
        last = ""
        for attempt in range(src.retries + 1):
            try:
                return _get_once(session, url, src, headers)
            except _Retryable as exc:
                last = str(exc)
                log.warning("feed %s: %s: attempt %d of %d failed: %s", src.name, url, attempt + 1,
                            src.retries + 1, last)
                if attempt < src.retries:
                    time.sleep(src.backoff_s * 2 ** attempt)
        raise FeedError(f"feed {src.name}: {url}: {last} ({src.retries + 1} attempt(s))")
    finally:
        if own:
            session.close()


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) of a URL: the paging of a feed stays with the server it started on."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class FeedResult:
    """What one source gave: its observations (or none) and the error that stopped it (or None)."""

    def __init__(self, source: str, observations: pd.DataFrame, error: str | None = None, pages: int = 0,
                 raw: bytes | None = None):
        self.source = source
        self.observations = observations
        self.error = error
        self.pages = pages
        self.raw = raw


def read_source(src: SourceSpec, cfg: FeedsConfig, *, session: Any = None) -> FeedResult:
    """Fetch and parse one source into the observation table; a FeedError (unreachable, garbage,
    refused XML) comes back as the result's ``error`` with no rows, so one bad feed never stops the
    others (a ConfigError, such as an auth token missing from the environment, is raised). The
    first page's bytes are kept (``raw``) for the run record of a rejected answer."""
    try:
        if src.format == "sensorthings":
            records, url, pages, first = [], src.url, 0, None
            while True:
                body = fetch_bytes(src, url=url if src.url else None, user_agent=cfg.user_agent, session=session)
                first = body if first is None else first
                page, next_url = parse_sensorthings(body, src)
                records.extend(page)
                pages += 1
                if next_url is not None and src.url is not None and _origin(next_url) != _origin(src.url):
                    raise FeedError(f"feed {src.name}: @iot.nextLink {next_url} leaves {_origin(src.url)} (refused)")
                url = next_url
                if url is None or src.path is not None:
                    break
                if pages >= src.max_pages:
                    raise FeedError(f"feed {src.name}: more than {src.max_pages} pages (@iot.nextLink); "
                                    f"raise max_pages or narrow the query")
            return FeedResult(src.name, normalise(records, src, cfg), pages=pages, raw=first)
        body = fetch_bytes(src, user_agent=cfg.user_agent, session=session)
        return FeedResult(src.name, normalise(PARSERS[src.format](body, src), src, cfg), pages=1, raw=body)
    except FeedError as exc:
        return FeedResult(src.name, empty_observations(), error=str(exc))


def read_feeds(cfg: FeedsConfig) -> list[FeedResult]:
    """Every source of ``cfg``, one after the other, over one HTTP session (connections reused)."""
    import requests

    with requests.Session() as session:
        return [read_source(src, cfg, session=session) for src in cfg.sources]
