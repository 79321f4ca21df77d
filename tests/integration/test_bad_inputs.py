"""Every command, every file option and every number option, fed the same bad inputs: each ends in
one clear line naming what is wrong, and a non-zero exit — never a traceback, never a silent default.

The commands are found by walking the Typer app, so a new command or option is covered (or this test
says it needs an entry) as soon as it lands. A command runs in-process through ``floodtwin.cli.main``
(what the ``floodtwin`` script calls): an exception escaping it is a traceback.

Bad inputs: for a file read — missing, empty, binary, a directory; for a file written — a directory,
a missing folder, a path under a regular file; for a database — binary, a directory, a missing folder;
for a number — negative, zero, NaN, infinity, huge, where the option's stated domain (``DOMAINS``)
excludes it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import typer

from floodtwin.cli import app, main

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-07-20T10:00:00+08:00"


def _commands():
    root = typer.main.get_command(app)

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*path, name))
        else:
            yield path, cmd

    return dict(walk(root, ()))


COMMANDS = _commands()

#: a valid invocation of each command (bad inputs are put into it one at a time); {tmp} is a folder
BASE: dict[tuple[str, ...], list[str]] = {
    ("push",): ["--grid", "G07", "--message", "drill", "--no-deliver", "--now", NOW, "--actor", "TOWN"],
    ("calibrate",): ["--years", "2018", "--output", "{tmp}/cal.yaml", "--quiet"],
    ("rating",): ["--discharge", "1000"],
    ("scenario",): ["--discharge", "22000", "--steady"],
    ("ensemble",): [str(ROOT / "scenarios/ensembles/test-small.yaml"), "--out", "{tmp}/ens", "--workers", "2", "--quiet"],
    ("reach", "info"): [],
    ("reach", "map"): ["-o", "{tmp}/map.png", "--dpi", "30"],
    ("reach", "build"): [str(ROOT / "data/dikes/huayuankou.yaml"), "--out", "{tmp}/build", "--resolution", "500"],
    ("preplan", "check"): [str(ROOT / "data/preplans/huayuankou.yaml")],
    ("preplan", "show"): [],
    ("preplan", "tasks"): ["--discharge", "22000"],
    ("preplan", "diff"): ["--from", "3000", "--to", "22000"],
    ("preplan", "timeline"): ["{tmp}/flows.csv"],
    ("tasks", "activate"): ["--discharge", "22000", "--no-deliver", "--now", NOW],
    ("tasks", "list"): [],
    ("tasks", "show"): ["x"],
    **{("tasks", a): ["x", "--no-deliver", "--actor", "TOWN"] for a in ("ack", "start", "on-site", "done", "verify", "reject",
                                                       "close", "cancel")},
    ("tasks", "tick"): ["--no-deliver", "--now", NOW],
    ("tasks", "deliver"): ["--now", NOW],
    ("tasks", "export"): ["--geojson", "{tmp}/layer.geojson"],
    ("tasks", "sync-roster"): [],
    ("tasks", "load"): [],
    ("mode", "set"): ["holiday", "--reason", "drill", "--no-deliver", "--now", NOW],
    ("mode", "show"): [],
    ("camera", "ingest"): ["{tmp}/events.jsonl", "--now", NOW, "--no-deliver"],
    ("camera", "list"): [],
    ("camera", "cameras"): [],
    ("report", "snap"): ["--kind", "dike_damage", "--text", "crack", "--reporter", "W-1", "--photo", "{tmp}/snap.jpg",
                         "--grid", "G07", "--no-deliver", "--now", NOW],
    **{("report", a): ["x", "--actor", "TOWN", "--no-deliver", "--now", NOW] for a in ("triage", "handle", "verify",
                                                                                      "close")},
    ("report", "show"): ["x"],
    ("report", "stats"): [],
    ("report", "tick"): ["--no-deliver", "--now", NOW],
    ("report", "add"): ["--danger", "seepage", "--dike", "right", "--chainage", "8+200", "--reporter", "S010",
                        "--no-deliver", "--now", NOW],
    ("report", "import"): ["{tmp}/reports.jsonl", "--no-deliver", "--now", NOW],
    ("report", "list"): [],
    ("report", "resolve"): ["x", "--reason", "done", "--actor", "TOWN"],
    ("report", "kinds"): [],
    ("stones", "list"): [],
    ("stones", "ingest"): ["{tmp}/readings.jsonl", "--now", NOW, "--no-tasks"],
    ("stones", "status"): ["--now", NOW],
    ("stones", "quarantine"): [],
    ("stones", "simulate"): ["--hours", "1", "--events", "1", "--bad", "0", "-o", "{tmp}/sim.jsonl", "--now", NOW],
    ("alert-run",): ["--config", "{tmp}/alerts.yaml", "--now", NOW],
    ("watch",): ["--config", "{tmp}/alerts.yaml", "--max-runs", "1"],
    ("replay",): [str(ROOT / "data/yrcc/daily_lower_river_2001_2019.csv"), "--from", "2019-06-28", "--to",
                  "2019-06-29", "--no-cap"],
    ("forecast", "skill"): [],
    # a small build (two members, 100 m, a 1 h wave) so that a bad input wrongly accepted cannot run for long
    ("library", "build"): ["--from", "8000", "--to", "9000", "--step", "1000", "--resolution", "100",
                           "--duration-h", "1", "--library", "{tmp}/lib.nc", "--quiet"],
    ("library", "info"): [],
    ("serve",): ["--port", "8059"],
}

#: options that name a file the command reads, writes, or the database; found by type (Path) and by
#: these names for options typed as text
READS = {"--config", "--preplan", "--file", "--risk", "--thresholds", "--calibration", "--data", "--ca-file",
         "--cert", "--key", "--token-file"}
WRITES = {"-o", "--output", "--truth", "--geojson"}
#: options that name a folder the command writes into (created when its parent exists, and said so)
WRITE_FOLDERS = {"--out"}
DATABASE = {"--db"}
#: files read as bytes, where any content is valid (a photo): no "binary" case
BINARY_READS = {"--photo"}
#: positional file arguments (read)
READ_ARGS = {"yaml_path", "path", "flows", "file"}
#: the valid domain of each number option: (lowest, highest, lowest included) — None: unbounded
DOMAINS: dict[str, tuple[float | None, float | None, bool]] = {
    "--discharge": (0.0, 100_000.0, True), "--forecast": (0.0, 100_000.0, True), "--from": (0.0, 100_000.0, True),
    "--to": (0.0, 100_000.0, True), "--q-min": (0.0, 100_000.0, False), "--q-max": (0.0, 100_000.0, False),
    "--assimilate": (1, 366, True), "--tasks": (0, 10_000, True), "--resolution": (1.0, 10_000.0, True),
    "--dpi": (10, 1200, True), "--wait": (0.0, 3600.0, True), "--lon": (-180.0, 180.0, True),
    "--lat": (-90.0, 90.0, True), "--connect-timeout": (0.0, 3600.0, False), "--max-messages": (1, None, True),
    "--duration": (0.0, None, False), "--idle-exit": (0.0, None, False), "--hours": (0.0, 24 * 366.0, False),
    "--events": (0, 100_000, True), "--bad": (0, 100_000, True), "--seed": (0, None, True),
    "--rate": (0.0, None, False), "--limit": (1, 1_000_000, True), "--max-runs": (1, None, True),
    "--step": (0.0, 100_000.0, False), "--workers": (1, 256, True), "--duration-h": (1.0, 240.0, True),
    "--port": (1, 65535, True),
}
#: number options of a command that a value there is irrelevant to (kept out, with the reason)
SKIP_NUMBERS = {
    # the MQTT options of a file ingest/simulation: only read with --mqtt, which needs a broker
    (("stones", "ingest"), "--connect-timeout"), (("stones", "simulate"), "--connect-timeout"),
    (("stones", "ingest"), "--max-messages"), (("stones", "ingest"), "--duration"),
    (("stones", "ingest"), "--idle-exit"), (("stones", "simulate"), "--rate"),
}


def _annotation(param) -> str:
    return str(param.type_descriptor.annotation)


def _file_role(param) -> str | None:
    name = param.opts[0] if param.param_type_name == "option" else param.name
    if param.param_type_name == "argument":
        return "read" if param.name in READ_ARGS else None
    if name in DATABASE:
        return "db"
    if name in WRITES:
        return "write"
    if name in WRITE_FOLDERS:
        return "folder"
    if name in READS or "Path" in _annotation(param):
        return "read"
    return None


def _number_kind(param) -> str | None:
    a = _annotation(param)
    if getattr(param, "is_flag", False) or param.param_type_name != "option":
        return None
    return "int" if "int" in a and "Path" not in a else ("float" if "float" in a else None)


def _cases():
    cases = []
    for path, cmd in sorted(COMMANDS.items()):
        for param in cmd.params:
            role = _file_role(param)
            if role is not None:
                bad = {"read": ("missing", "empty", "binary", "directory"),
                       "write": ("directory", "missing-folder", "under-a-file"),
                       "folder": ("a-file", "under-a-file"),
                       "db": ("binary", "directory", "missing-folder")}[role]
                if role == "read" and param.opts[0] in BINARY_READS:
                    bad = ("missing", "empty", "directory")
                cases += [pytest.param(path, param.opts[0] if param.param_type_name == "option" else param.name,
                                       role, b, id=f"{' '.join(path)}:{param.name}:{b}") for b in bad]
            kind = _number_kind(param)
            if kind is not None and (path, param.opts[0]) not in SKIP_NUMBERS:
                for value in ("-5", "0", "nan", "inf", "1e12") if kind == "float" else ("-5", "0", "1000000000000"):
                    cases.append(pytest.param(path, param.opts[0], kind, value,
                                              id=f"{' '.join(path)}:{param.name}:{value}"))
    return cases


def _outside(option: str, value: str) -> bool:
    lo, hi, lo_in = DOMAINS[option]
    x = float(value)
    if not math.isfinite(x):
        return True
    if lo is not None and (x < lo or (x == lo and not lo_in)):
        return True
    return hi is not None and x > hi


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOODTWIN_DB", str(tmp_path / "ft.sqlite"))
    monkeypatch.setenv("COLUMNS", "100")
    (tmp_path / "flows.csv").write_text("time,discharge_m3s\n2026-07-20T00:00:00+08:00,3000\n"
                                        "2026-07-20T06:00:00+08:00,5000\n", encoding="utf-8")
    (tmp_path / "reports.jsonl").write_text('{"id": "A1", "kind": "patrol", "grid_id": "G07", "reporter": "S010"}\n',
                                            encoding="utf-8")
    (tmp_path / "readings.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "snap.jpg").write_bytes(b"\xff\xd8 photo \xff\xd9")
    (tmp_path / "events.jsonl").write_text('{"event_id": "E1", "camera_id": "C12", "time": "2026-07-20T09:58:00+08:00", '
                                           '"kind": "smoke", "confidence": 0.9, "snapshot": "s.jpg"}\n', encoding="utf-8")
    return tmp_path


def _bad_path(tmp: Path, how: str) -> str:
    if how == "missing":
        return str(tmp / "nope" / "missing.yaml")
    if how == "empty":
        (tmp / "empty.yaml").write_bytes(b"")
        return str(tmp / "empty.yaml")
    if how == "binary":
        (tmp / "binary.yaml").write_bytes(bytes(range(256)) * 4)
        return str(tmp / "binary.yaml")
    if how == "directory":
        (tmp / "adir").mkdir(exist_ok=True)
        return str(tmp / "adir")
    if how == "missing-folder":
        return str(tmp / "no-such-folder" / "out.file")
    if how == "a-file":
        (tmp / "plain.txt").write_text("x", encoding="utf-8")
        return str(tmp / "plain.txt")
    if how == "under-a-file":
        (tmp / "plain.txt").write_text("x", encoding="utf-8")
        return str(tmp / "plain.txt" / "out.file")
    raise AssertionError(how)


def _argv(path, option, value, tmp: Path) -> list[str]:
    base = [a.replace("{tmp}", str(tmp)) for a in BASE[path]]
    cmd = COMMANDS[path]
    positional = [p for p in cmd.params if p.param_type_name == "argument"]
    if not option.startswith("-"):  # a positional argument: replace the base's
        k = [p.name for p in positional].index(option)
        base[k] = value
        return [*path, *base]
    if option in base:  # replace the base's value
        i = base.index(option)
        return [*path, *base[:i], option, value, *base[i + 2:]]
    return [*path, *base, option, value]


def _run(argv, capsys) -> tuple[int, str, str]:
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - main always exits
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_has_a_base_invocation():
    missing = sorted(" ".join(p) for p in COMMANDS if p not in BASE)
    assert not missing, f"add a valid invocation to BASE for: {missing}"


def test_every_number_option_has_a_domain():
    unknown = sorted({p.opts[0] for cmd in COMMANDS.values() for p in cmd.params
                      if _number_kind(p) is not None and p.opts[0] not in DOMAINS})
    assert not unknown, f"state the valid domain in DOMAINS of: {unknown}"


@pytest.mark.parametrize("path, option, kind, value", _cases())
def test_a_bad_input_is_one_line_and_a_non_zero_exit(workdir, capsys, path, option, kind, value):
    if kind in ("int", "float"):
        if not _outside(option, value):
            pytest.skip(f"{option} {value} is inside its stated domain {DOMAINS[option]}")
        shown = value
    else:
        value = _bad_path(workdir, value)
        shown = value
    argv = _argv(path, option, value, workdir)
    code, out, err = _run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0, f"{' '.join(argv)}: accepted (exit 0); stdout {out[:300]!r}"
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(lines) == 1, f"{' '.join(argv)}: {len(lines)} lines on stderr:\n{err}"
    # the line names what is wrong: the value, the file or the option
    names = {shown, Path(shown).name, option.lstrip("-"), option.lstrip("-").replace("-", "_"),
             option.lstrip("-").replace("-", " ")}
    if kind == "float" or kind == "int":
        x = float(value)
        names |= {f"{x:g}", f"{x:,.0f}" if math.isfinite(x) else str(x), repr(x)}
    assert any(n and n in lines[0] for n in names), f"{' '.join(argv)}: the line does not name it: {lines[0]}"


def test_the_cases_cover_every_file_option():
    covered = {(p, o) for p, o, *_ in (c.values for c in _cases())}
    files = {(path, p.opts[0] if p.param_type_name == "option" else p.name) for path, cmd in COMMANDS.items()
             for p in cmd.params if _file_role(p) is not None}
    assert files <= covered
    assert len(files) >= 60, f"{len(files)} file options: the walk lost commands"


def test_the_base_invocations_run(workdir, capsys):
    """The bad inputs mean something only if the base invocation itself is accepted (spot checks of
    the fast ones; the others fail on the bad input before they run)."""
    for path in [("rating",), ("preplan", "tasks"), ("preplan", "timeline"), ("report", "kinds")]:
        code, out, err = _run([*path, *[a.replace("{tmp}", str(workdir)) for a in BASE[path]]], capsys)
        assert code == 0, (path, err)


def test_an_unexpected_exception_is_one_internal_error_line(workdir, capsys, monkeypatch):
    """The last line of defence of ``main``: a bug is exit 70 and one line naming it and the command,
    not a traceback (FLOODTWIN_DEBUG=1 re-raises, for the developer)."""
    import floodtwin.reach.summary as summary

    def broken(*args, **kwargs):
        raise ZeroDivisionError("probe")

    monkeypatch.setattr(summary, "reach_summary", broken)
    code, out, err = _run(["reach", "info"], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 70 and len(lines) == 1 and "Traceback" not in err, err
    assert "internal error" in lines[0] and "ZeroDivisionError: probe" in lines[0] and "reach info" in lines[0]
    monkeypatch.setenv("FLOODTWIN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["reach", "info"])
