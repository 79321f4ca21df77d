"""The snap-and-send loop through the CLI (issue 20.5): snap -> triage -> handle -> verify with a photo ->
close, the timeline in `report show`, and `report stats` at 100 columns."""

from __future__ import annotations

import json

import pytest

from floodtwin.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_the_loop_through_the_cli(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    db = str(tmp_path / "ft.sqlite")
    (tmp_path / "snap.jpg").write_bytes(b"\xff\xd8 sand mining at night \xff\xd9")
    (tmp_path / "done.jpg").write_bytes(b"\xff\xd8 the boat is gone \xff\xd9")
    common = ["--db", db, "--no-deliver"]
    code, out, err = run(capsys, "report", "snap", "--kind", "illegal_activity", "--text", "夜间采砂 sand mining",
                         "--reporter", "W-77", "--photo", str(tmp_path / "snap.jpg"), "--lon", "113.70", "--lat",
                         "34.915", "--id", "SN1", "--now", "2026-07-21T22:00:00+08:00", *common)
    assert code == 0 and out.startswith("report SN1 received"), err
    code, out, err = run(capsys, "report", "triage", "SN1", "--actor", "TOWN", "--now", "2026-07-21T22:10:00+08:00",
                         *common)
    assert code == 0 and "dispatched" in out, err
    code, out, _ = run(capsys, "report", "show", "SN1", "--db", db, "--json")
    task = json.loads(out)["report"]["task_key"]
    code, out, _ = run(capsys, "tasks", "show", task, "--db", db, "--json")
    holder = json.loads(out)["assignments"][0]["staff_id"]
    assert holder.startswith("RB-")  # the river bureau's duty roster: a named person
    code, out, err = run(capsys, "report", "handle", "SN1", "--actor", holder, "--now", "2026-07-21T23:00:00+08:00",
                         *common)
    assert code == 0 and "handled" in out, err
    code, _, err = run(capsys, "report", "verify", "SN1", "--actor", "TOWN", "--now", "2026-07-21T23:05:00+08:00",
                       *common)
    assert code == 2 and "a verification needs a photo of the result (--photo)" in err
    code, out, err = run(capsys, "report", "verify", "SN1", "--actor", "TOWN", "--photo", str(tmp_path / "done.jpg"),
                         "--now", "2026-07-21T23:06:00+08:00", *common)
    assert code == 0 and "verified" in out, err
    code, out, err = run(capsys, "report", "close", "SN1", "--actor", "TOWN", "--now", "2026-07-21T23:10:00+08:00",
                         *common)
    assert code == 0 and "closed" in out and "2 photo(s)" in out, err
    code, out, _ = run(capsys, "report", "show", "SN1", "--db", db)
    assert "citizen_closed" in out and all(len(line) <= 100 for line in out.splitlines())
    code, out, _ = run(capsys, "report", "stats", "--db", db)
    assert code == 0 and "1 report(s), 1 closed (100%)" in out and all(len(line) <= 100 for line in out.splitlines())
    assert any(line.startswith("illegal_activity") and line.split()[-1] == "70" for line in out.splitlines())
    code, out, _ = run(capsys, "report", "stats", "--db", db, "--json")
    assert json.loads(out)["by_kind"][0]["median_min_to_close"] == 70.0
