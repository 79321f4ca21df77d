"""Every command of the user guide runs as written.

In ``docs/guide/*.md`` the lines beginning with ``$ `` inside ```console blocks are commands: they run in
order, chapter by chapter, with bash in an empty folder where ``data/`` and ``scenarios/`` are the
repository's (read only: no command of the guide writes into them) and ``floodtwin`` is this checkout's.
Each must exit 0, or the code its line ends with (``# exits N``). The ```python blocks of a chapter (and
of the README) run one after the other in one interpreter, in the same folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guide"
CHAPTERS = sorted(p.name for p in GUIDE.glob("*.md"))
EXITS = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")


def console_commands(text: str) -> list[tuple[str, int]]:
    """(command, expected exit code) of every ``$ `` line of the ```console blocks of ``text``."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                cmd = line[2:]
                m = EXITS.search(cmd)
                out.append((EXITS.sub("", cmd), int(m.group(1)) if m else 0))
    return out


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.fixture
def workdir(tmp_path):
    """An empty folder with the repository's data/ and scenarios/, and a `floodtwin` of this checkout."""
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    (tmp_path / "scenarios").symlink_to(REPO / "scenarios", target_is_directory=True)
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "floodtwin"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m floodtwin \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
           "COLUMNS": "100", "FLOODTWIN_DB": str(tmp_path / "default-db.sqlite")}
    env.pop("FLOODTWIN_CONFIG", None)
    return tmp_path, env


def test_the_guide_has_its_chapters_and_commands():
    assert {"README.md", "duty-officer.md", "analyst.md", "operator.md", "own-data.md"} <= set(CHAPTERS)
    total = sum(len(console_commands((GUIDE / c).read_text(encoding="utf-8"))) for c in CHAPTERS)
    assert total >= 25, f"only {total} commands found: is the ```console convention still used?"
    assert console_commands("```console\n$ floodtwin x  # exits 3\nnot a command\n```\n") == [("floodtwin x", 3)]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_command_of_the_chapter_runs(chapter, workdir):
    cwd, env = workdir
    text = (GUIDE / chapter).read_text(encoding="utf-8")
    before = {p: p.stat().st_mtime_ns for p in (REPO / "data").rglob("*") if p.is_file()}
    for cmd, expected in console_commands(text):
        proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == expected, (f"{chapter}: `{cmd}` exited {proc.returncode}, expected {expected}\n"
                                             f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        if expected:
            assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    blocks = python_blocks(text)
    if blocks:
        proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{chapter}: the python blocks failed\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    after = {p: p.stat().st_mtime_ns for p in (REPO / "data").rglob("*") if p.is_file()}
    assert after == before, f"{chapter}: a command of the guide wrote into the repository's data/"


def test_the_readme_python_runs_as_written(workdir):
    cwd, env = workdir
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1.45" in proc.stdout, "the dam break's middle state (Stoker 1.4538 m)"
