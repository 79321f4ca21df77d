"""The command-centre screen as an ASGI application (Starlette): the page, its static files, the JSON API.

Read-only by default: the GET routes show; the actions (activate the plan, push, acknowledge) need
the screen's token (``FLOODTWIN_SERVE_TOKEN``, or ``--token-file``) in an ``Authorization: Bearer``
header, and are refused (403) when none was configured. Every input is checked: a bad discharge,
an unknown grid or task, a malformed body is a 4xx with one clear line (``{"error": ...}``), never
a 500. Front-end files (and Leaflet, vendored in ``floodtwin/maps/static/leaflet``) are served from
the package: nothing is fetched from the internet.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

from floodtwin.errors import DataError, FloodtwinError, InputError

__all__ = ["STATIC", "create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
LEAFLET = Path(__file__).resolve().parents[1] / "maps" / "static" / "leaflet"
#: largest request body accepted (bytes): a push message, a task key
MAX_BODY = 16_384


def _error(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _status_of(exc: FloodtwinError) -> int:
    text = str(exc)
    if "not found" in text or "no such" in text or "unknown" in text.lower():
        return 404
    if "refused" in text or "may not" in text or "not allowed" in text:
        return 403
    return 409 if isinstance(exc, DataError) else 400


def create_app(screen, *, token: str | None = None):
    """The Starlette app over a :class:`floodtwin.serve.screen.Screen`; ``token``: what actions need
    (None: the screen is read-only)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def guarded(fn):
        """Run an endpoint; a FloodtwinError becomes a 4xx with its line, anything else a 500 that says
        it is a bug (never a traceback to the page)."""
        async def endpoint(request: Request):
            try:
                return await fn(request)
            except _Forbidden as exc:
                return _error(403, str(exc))
            except FloodtwinError as exc:
                return _error(_status_of(exc), str(exc))
            except HTTPException:
                raise
            except Exception as exc:  # noqa: BLE001 - the last line of defence
                log.exception("screen: internal error")
                return _error(500, f"internal error (a bug in floodtwin): {type(exc).__name__}: {exc}")
        return endpoint

    async def run_sync(fn, *args):
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args)

    def require_token(request: Request) -> None:
        if token is None:
            raise _Forbidden("read-only screen: actions need a token (start floodtwin serve with "
                             "FLOODTWIN_SERVE_TOKEN set, or --token-file)")
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].strip(), token):
            raise _Forbidden("action refused: wrong or missing token (Authorization: Bearer …)")

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise InputError(f"request body of {len(raw)} bytes: at most {MAX_BODY}")
        try:
            doc = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"request body: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise InputError("request body: expected a JSON object")
        return doc

    def text_field(doc: dict, name: str, *, required: bool = True, max_len: int = 2000) -> str | None:
        v = doc.get(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            if required:
                raise InputError(f"{name}: missing")
            return None
        if not isinstance(v, str):
            raise InputError(f"{name}: expected text, got {type(v).__name__}")
        if len(v) > max_len:
            raise InputError(f"{name}: {len(v)} characters, at most {max_len}")
        return v.strip()

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @guarded
    async def reach(request: Request):
        return JSONResponse({"layers": screen.layers, "bounds": screen.bounds,
                             "library": {"discharges_m3s": [float(q) for q in screen.library.discharges_m3s],
                                         "file": screen.library.path.name},
                             "read_only": token is None})

    @guarded
    async def answer(request: Request):
        t0 = time.perf_counter()
        q = screen.require_discharge(request.query_params.get("discharge"))
        doc = await run_sync(screen.answer, q)
        doc["server_ms"] = round(1000 * (time.perf_counter() - t0), 1)
        return JSONResponse(doc)

    @guarded
    async def flood_png(request: Request):
        q = screen.require_discharge(request.query_params.get("discharge"))
        png = await run_sync(screen.flood_png, q)
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @guarded
    async def hillshade_png(request: Request):
        return Response(screen.hillshade_png(), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @guarded
    async def board(request: Request):
        return JSONResponse(await run_sync(screen.board))

    @guarded
    async def monitoring(request: Request):
        return JSONResponse(await run_sync(screen.monitoring))

    @guarded
    async def activate(request: Request):
        require_token(request)
        doc = await body_of(request)
        q = screen.require_discharge(doc.get("discharge"))
        return JSONResponse(await run_sync(screen.activate, q, text_field(doc, "actor", required=False, max_len=64)))

    @guarded
    async def push(request: Request):
        require_token(request)
        doc = await body_of(request)
        out = await run_sync(screen.push, text_field(doc, "message"), text_field(doc, "actor", max_len=64),
                             text_field(doc, "grid", required=False, max_len=32),
                             text_field(doc, "role", required=False, max_len=64))
        return JSONResponse(out)

    @guarded
    async def acknowledge(request: Request):
        require_token(request)
        doc = await body_of(request)
        return JSONResponse(await run_sync(screen.acknowledge, text_field(doc, "key", max_len=200),
                                           text_field(doc, "actor", max_len=64)))

    async def not_found(request: Request, exc: HTTPException):
        return _error(exc.status_code, f"{request.url.path}: {exc.detail}")

    async def forbidden(request: Request, exc: "_Forbidden"):
        return _error(403, str(exc))

    routes = [
        Route("/", index),
        Route("/api/reach", reach),
        Route("/api/answer", answer),
        Route("/api/flood.png", flood_png),
        Route("/api/hillshade.png", hillshade_png),
        Route("/api/board", board),
        Route("/api/monitoring", monitoring),
        Route("/api/activate", activate, methods=["POST"]),
        Route("/api/push", push, methods=["POST"]),
        Route("/api/acknowledge", acknowledge, methods=["POST"]),
        Mount("/static/leaflet", StaticFiles(directory=LEAFLET), name="leaflet"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, _Forbidden: forbidden})
    app.state.screen = screen
    return app


class _Forbidden(Exception):
    """An action without the screen's token."""
