"""Integration: every dispatch command on bad input gives one red line and exit 2, never a traceback,
and leaves no database behind it did not need; every command takes --db and --json, and the
clock-dependent ones --now. The real CLI entry point (``floodtwin.cli.main``), real files."""

from __future__ import annotations

import json
import os

import pytest
import typer.main

from floodtwin.cli import app, main

NOW = "2026-07-20T10:00:00+08:00"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def one_red_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOODTWIN_CONFIG", raising=False)
    return str(tmp_path / "ft.sqlite")


@pytest.mark.parametrize("args, message", [
    (("tasks", "ack", "no-such-task", "--actor", "S001"), "task no-such-task: no such task"),
    (("tasks", "show", "no-such-task"), "no such task"),
    (("tasks", "cancel", "no-such-task", "--reason", "x", "--actor", "TOWN"), "no such task"),
    (("tasks", "list", "--state", "sleeping"), "--state sleeping: expected one of"),
    (("tasks", "activate"), "give --discharge"),
    (("tasks", "activate", "--discharge", "-5"), "--discharge -5.0 m³/s: expected a finite number >= 0"),
    (("tasks", "activate", "--discharge", "nan"), "--discharge nan m³/s: expected a finite number >= 0"),
    (("tasks", "export", "--geojson", "missing-folder/layer.geojson"), "folder missing-folder does not exist"),
    (("tasks", "export", "--geojson", "."), "is a directory"),
    (("report", "import", "missing.jsonl"), "missing.jsonl: file not found"),
    (("report", "import", "."), "is a directory"),
    (("report", "resolve", "R-none", "--reason", "x", "--actor", "TOWN"), "report R-none: no such report"),
    (("push", "--message", "hi", "--actor", "TOWN"), "choose --grid, --role or --all"),
    (("push", "--message", "hi", "--grid", "G99", "--actor", "TOWN"), "grid G99 is not in the roster"),
    (("push", "--message", "hi", "--role", "mayor", "--actor", "TOWN"), "role mayor is not one of"),
    (("push", "--message", "hi", "--all", "--grid", "G07", "--actor", "TOWN"), "--all cannot be combined"),
    (("tasks", "list", "--config", "missing.yaml"), "missing.yaml: file not found"),
])
def test_bad_input_gives_one_red_line(capsys, db, args, message):
    code, _, err = run(capsys, *args, "--db", db)
    assert message in one_red_line(code, err)


@pytest.mark.parametrize("args", [
    ("tasks", "list"), ("tasks", "tick"), ("tasks", "activate", "--discharge", "5000"),
    ("report", "add", "--danger", "leak", "--chainage", "8+200", "--reporter", "S101"),
    ("push", "--all", "--message", "hi", "--actor", "TOWN"),
])
def test_bad_clock_is_refused_before_the_database_is_created(capsys, db, args):
    code, _, err = run(capsys, *args, "--db", db, "--now", "half past ten")
    assert "--now 'half past ten': expected an ISO 8601 time" in one_red_line(code, err)
    assert not os.path.exists(db)


def test_missing_database_folder_is_not_created(capsys, tmp_path, db):
    target = tmp_path / "typo" / "ft.sqlite"
    code, _, err = run(capsys, "tasks", "list", "--db", str(target))
    assert "folder" in one_red_line(code, err) and "does not exist" in err
    assert not (tmp_path / "typo").exists()


def test_corrupt_database_and_rejected_reports(capsys, tmp_path, db):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 400)
    for args in (("tasks", "list"), ("report", "list"), ("push", "--all", "--message", "x", "--actor", "TOWN"),
                 ("tasks", "export", "--geojson", "-")):
        code, _, err = run(capsys, *args, "--db", str(garbage))
        assert "file is not a database" in one_red_line(code, err)
    upload = tmp_path / "upload.jsonl"
    upload.write_bytes(b'{"id": "A1", "kind": "patrol", "grid_id": "G07", "reporter": "S101"}\n'
                       b'{"id": "A2", "kind": "patrol"\n\xff\xfe\n')
    code, _, err = run(capsys, "report", "import", str(upload), "--db", db, "--now", NOW)
    assert "(and 1 more rejected, kept with their reasons)" in one_red_line(code, err)
    code, out, _ = run(capsys, "report", "list", "--status", "rejected", "--db", db, "--json")
    rejected = json.loads(out)
    assert code == 0 and len(rejected) == 2 and all(r["reject_reason"] for r in rejected)


def test_every_dispatch_command_takes_db_and_json_and_the_clock_where_it_matters():
    root = typer.main.get_command(app)
    commands = {f"{group} {name}": cmd for group in ("tasks", "report")
                for name, cmd in root.commands[group].commands.items()}
    commands["push"] = root.commands["push"]
    # commands that do not read the clock: the danger table, the stored reports, the roster copy
    timeless = {"report kinds", "report list", "tasks sync-roster", "tasks load", "report show", "report stats"}
    for name, cmd in commands.items():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--json" in opts, name
        if name != "report kinds":  # reads the danger table only, no database
            assert "--db" in opts, name
        if name not in timeless:
            assert "--now" in opts, name
    assert len(commands) >= 18


def test_user_text_with_rich_markup_is_printed_as_it_is(capsys, db):
    text = "route done [/bold] [red]nothing[/red] found"
    # an unknown reporter is refused in one line that shows the name as it was given (and kept, rejected)
    code, out, err = run(capsys, "report", "add", "--kind", "patrol", "--grid", "G07", "--reporter", "S1[/x]",
                         "--text", text, "--db", db, "--now", NOW, "--no-deliver")
    assert "reporter 'S1[/x]' is not a staff id of the roster" in one_red_line(code, err)
    code, out, err = run(capsys, "report", "add", "--kind", "patrol", "--grid", "G07", "--reporter", "S101",
                         "--text", text, "--db", db, "--now", NOW, "--no-deliver")
    assert code == 0, err
    code, out, err = run(capsys, "push", "--grid", "G07", "--message", "[/oops] 封闭", "--db", db, "--now", NOW,
                         "--no-deliver", "--actor", "TOWN")
    assert code == 0, err
    code, out, err = run(capsys, "tasks", "activate", "--discharge", "3000", "--reason", "[/why]", "--db", db,
                         "--now", NOW, "--no-deliver")
    assert code == 0 and "Traceback" not in err, err
    code, out, _ = run(capsys, "tasks", "list", "--db", db, "--json")
    task = next(t for t in json.loads(out) if t["assignees"][0].startswith("S"))
    key = task["key"]
    code, out, err = run(capsys, "tasks", "ack", key, "--reason", "[/x] on my way", "--db", db, "--now", NOW,
                         "--no-deliver", "--actor", task["assignees"][0])
    assert code == 0, err
    code, out, err = run(capsys, "tasks", "show", key, "--db", db, "--now", NOW)
    assert code == 0 and "[/x] on my way" in out and "[/why]" in out, err
    code, out, err = run(capsys, "report", "list", "--db", db)
    flat = "".join(out.replace("│", "").split())  # the table folds long cells over lines
    assert code == 0 and "[/bold]" in flat and "S1[/x]" in flat, err
