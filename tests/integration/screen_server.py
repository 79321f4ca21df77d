"""What the command-centre screen's tests share: a small flood-map library to serve (two full runs at
100 m, 20,000 and 24,000 m³/s, a 12 h wave) and ``floodtwin serve`` started on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def serve_env(**extra) -> dict:
    """The environment of a floodtwin subprocess of this tree; no screen token unless given."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="100")
    env.pop("FLOODTWIN_SERVE_TOKEN", None)
    env.update(extra)
    return env


def build_high_library(path: Path) -> Path:
    """A library of two members (20,000 and 24,000 m³/s, 100 m, 12 h wave) at ``path``."""
    run = subprocess.run([sys.executable, "-m", "floodtwin", "library", "build", "--from", "20000", "--to", "24000",
                          "--step", "4000", "--resolution", "100", "--duration-h", "12", "--workers", "2", "--quiet",
                          "--library", str(path)], capture_output=True, text=True, env=serve_env(), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(library: Path, db: Path, *, token: str | None) -> tuple[subprocess.Popen, str]:
    """``floodtwin serve`` on a free loopback port; returns (process, base URL) once it answers."""
    port = free_port()
    env = serve_env(**({"FLOODTWIN_SERVE_TOKEN": token} if token else {}))
    proc = subprocess.Popen([sys.executable, "-m", "floodtwin", "serve", "--port", str(port), "--library", str(library),
                             "--db", str(db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"floodtwin serve stopped: {proc.stdout.read()[-2000:]}")
        try:
            urllib.request.urlopen(base + "/api/reach", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("floodtwin serve did not answer within 120 s")
