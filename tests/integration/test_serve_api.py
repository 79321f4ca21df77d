"""The screen's HTTP API against ``floodtwin serve`` on a free loopback port (a real uvicorn server, a real
SQLite board, a small real library): every bad input is a 4xx with one clear line, never a 500; actions
need the token and are refused without it; an activation fills the board and the monitoring corner."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("distributed")

from screen_server import build_high_library, serve_env, start_server  # noqa: E402

TOKEN = "api-test-token-0123456"


_env = serve_env


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return build_high_library(tmp_path_factory.mktemp("apilib") / "high.nc")


@pytest.fixture(scope="module")
def server(library, tmp_path_factory):
    db = tmp_path_factory.mktemp("apidb") / "board.db"
    proc, base = start_server(library, db, token=TOKEN)
    yield base, db
    proc.terminate()
    proc.wait(timeout=20)


def call(base: str, path: str, body=None, *, token: str | None = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), r.headers.get("content-type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("content-type")


@pytest.mark.parametrize("value, fragment", [
    ("abc", "not a number"), ("nan", "expected a finite number"), ("-5", "expected a finite number"),
    ("1e9", "at most 100,000"), ("2000", "outside the flood-map library (20,000–24,000"), ("", "missing"),
])
def test_a_bad_discharge_is_a_400_with_one_line(server, value, fragment):
    base, _ = server
    for route in ("/api/answer", "/api/flood.png"):
        status, body, ctype = call(base, f"{route}?discharge={value}")
        assert status == 400 and ctype.startswith("application/json"), (route, status, body)
        err = json.loads(body)["error"]
        assert fragment in err and "\n" not in err, err


def test_answers(server):
    base, _ = server
    status, body, _ = call(base, "/api/answer?discharge=22000")
    doc = json.loads(body)
    assert status == 200 and doc["tier"] == "I" and doc["colour"] == "red" and 250 <= doc["task_count"] <= 350
    assert sum(len(g["tasks"]) for g in doc["tasks_by_grid"]) == doc["task_count"]
    assert len({(g["grid_id"], g["owner_role"]) for g in doc["tasks_by_grid"]}) == len(doc["tasks_by_grid"])
    status, png, ctype = call(base, "/api/flood.png?discharge=22000")
    assert status == 200 and ctype == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, body, _ = call(base, "/nowhere")
    assert status == 404 and "/nowhere" in json.loads(body)["error"]


@pytest.mark.parametrize("path, body, fragment", [
    ("/api/push", {"grid": "G99", "message": "drill", "actor": "TOWN"}, "not a grid"),
    ("/api/push", {"role": "astronaut", "message": "drill", "actor": "TOWN"}, "no one on the staff list"),
    ("/api/push", {"grid": "G07", "message": "  ", "actor": "TOWN"}, "message: missing"),
    ("/api/push", {"grid": "G07", "message": 5, "actor": "TOWN"}, "message: expected text"),
    ("/api/push", ["not", "an", "object"], "expected a JSON object"),
    ("/api/activate", {"discharge": "lots"}, "not a number"),
    ("/api/activate", {"discharge": 22000, "actor": "NOBODY"}, "NOBODY"),
    ("/api/acknowledge", {"key": "no-such-task", "actor": "TOWN"}, "no such task"),
    ("/api/acknowledge", {"actor": "TOWN"}, "key: missing"),
])
def test_bad_action_input_is_a_4xx_with_one_line(server, path, body, fragment):
    base, _ = server
    status, out, _ = call(base, path, body, token=TOKEN)
    assert 400 <= status < 500, (status, out)
    assert fragment in json.loads(out)["error"], out


def test_malformed_and_oversize_bodies(server):
    base, _ = server
    status, out, _ = call(base, "/api/push", raw=b"{nope", token=TOKEN)
    assert status == 400 and "not JSON" in json.loads(out)["error"]
    status, out, _ = call(base, "/api/push", raw=b'{"message": "' + b"x" * 20000 + b'"}', token=TOKEN)
    assert status == 400 and "at most 16384" in json.loads(out)["error"]


def test_actions_need_the_token(server):
    base, _ = server
    for token in (None, "wrong-token-000000"):
        status, out, _ = call(base, "/api/activate", {"discharge": 22000}, token=token)
        assert status == 403 and "token" in json.loads(out)["error"]
    status, out, _ = call(base, "/api/board")
    assert status == 200 and json.loads(out)["tasks"] == []  # nothing was activated by the refused calls


def test_a_screen_without_token_is_read_only(library, tmp_path):
    proc, base = start_server(library, tmp_path / "ro.db", token=None)
    try:
        status, out, _ = call(base, "/api/activate", {"discharge": 22000}, token="anything-at-all-1234")
        assert status == 403 and "read-only screen" in json.loads(out)["error"]
        assert json.loads(call(base, "/api/reach")[1])["read_only"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_activation_push_and_acknowledge_with_the_token(server):
    base, _ = server
    status, out, _ = call(base, "/api/activate", {"discharge": 22000}, token=TOKEN)
    doc = json.loads(out)
    assert status == 200 and doc["tier"] == "I" and doc["created"] > 250
    board = json.loads(call(base, "/api/board")[1])
    assert len(board["tasks"]) == doc["created"] and board["counts"].get("dispatched", 0) > 0
    mon = json.loads(call(base, "/api/monitoring")[1])
    assert mon["huayuankou"]["discharge_m3s"] == 22000.0 and mon["huayuankou"]["stage_m"] > 90
    assert sum(mon["stones_by_state"].values()) == 249
    status, out, _ = call(base, "/api/push", {"grid": "G07", "message": "drill 演练", "actor": "TOWN"}, token=TOKEN)
    assert status == 200 and json.loads(out)["recipients"]
    task = next(t for t in board["tasks"] if t["state"] == "dispatched" and t["assignees"])
    status, out, _ = call(base, "/api/acknowledge", {"key": task["key"], "actor": "S999"}, token=TOKEN)
    assert 400 <= status < 500  # not the assignee: refused by the board
    status, out, _ = call(base, "/api/acknowledge", {"key": task["key"], "actor": task["assignees"][0]}, token=TOKEN)
    assert status == 200 and json.loads(out)["state"] == "acknowledged"


def test_an_open_field_report_is_on_the_screen_with_its_place(server):
    base, db = server
    run = subprocess.run([sys.executable, "-m", "floodtwin", "report", "add", "--danger", "seepage", "--dike", "right",
                          "--chainage", "8+200", "--reporter", "S010", "--no-deliver", "--db", str(db)],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    reports = json.loads(call(base, "/api/monitoring")[1])["reports"]
    assert len(reports) == 1 and reports[0]["kind"] == "danger" and reports[0]["danger_kind"] == "seepage"
    assert 113.0 < reports[0]["lon"] < 114.5 and 34.5 < reports[0]["lat"] < 35.2  # Huayuankou, Zhengzhou
