"""``floodtwin preplan`` as a user runs it: real subprocesses on the repository's plan and reach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FLOODTWIN = [sys.executable, "-m", "floodtwin"]
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "preplans"


def run(*args, timeout=120):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*FLOODTWIN, "preplan", *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_check_accepts_the_repository_plan():
    from floodtwin.preplan import default_preplan_path

    proc = run("check", str(default_preplan_path()))
    assert proc.returncode == 0, proc.stderr
    assert "ok:" in proc.stdout and "5 tiers" in proc.stdout and "task templates" in proc.stdout


def test_check_reports_one_line_with_file_line_and_key():
    path = FIX / "broken_cycle.yaml"
    proc = run("check", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"{path}:31: templates.1.depends_on: dependency cycle" in lines[0]


def test_show_lists_templates_of_a_tier():
    proc = run("show", "--tier", "I")
    assert proc.returncode == 0, proc.stderr
    assert "spur.watch" in proc.stdout and "cmd.reinforce" in proc.stdout and "red" in proc.stdout
    proc = run("show", "--tier", "normal")
    assert "spur.watch" not in proc.stdout and "patrol.dike" in proc.stdout
    proc = run("show", "--tier", "V")
    assert proc.returncode == 2 and "unknown tier 'V'" in proc.stderr


def test_tasks_json_for_the_design_flood():
    proc = run("tasks", "--discharge", "22000", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["tier"], out["colour"]) == ("I", "red")
    assert "22,000" in out["reason"] and out["reason_zh"].startswith("实测流量22,000") and out["trigger"] == "discharge"
    assert 280 <= len(out["tasks"]) <= 330
    keys = [t["key"] for t in out["tasks"]]
    assert len(set(keys)) == len(keys)
    first = out["tasks"][0]
    assert {"key", "template_id", "category", "owner_role", "title_zh", "title_en", "deadline_min", "materials",
            "scope_kind", "scope_id", "note_en"} <= set(first)
    # same situation, same ids
    again = json.loads(run("tasks", "--discharge", "22000", "--json").stdout)
    assert [t["key"] for t in again["tasks"]] == keys


def test_tasks_text_in_both_languages():
    en = run("tasks", "--discharge", "22000")
    assert en.returncode == 0, en.stderr
    assert "level I response" in en.stdout and "counts" in en.stdout and "works emergency" in en.stdout
    assert "risk from the fallback rating rule, no hydraulic run" in en.stdout
    zh = run("tasks", "--discharge", "8000", "--lang", "zh")
    assert zh.returncode == 0, zh.stderr
    assert "Ⅲ级应急响应" in zh.stdout and "巡堤查险" in zh.stdout and "未做水力计算" in zh.stdout
    bad = run("tasks", "--discharge", "22000", "--lang", "fr")
    assert bad.returncode == 2 and "expected en or zh" in bad.stderr


def test_tasks_rejects_negative_discharge():
    proc = run("tasks", "--discharge", "-10")
    assert proc.returncode == 2 and "--discharge -10.0 m³/s: expected a finite number >= 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_diff_from_4500_to_22000():
    proc = run("diff", "--from", "4500", "--to", "22000", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["from"]["tier"], out["to"]["tier"]) == ("IV", "I")
    assert out["stand_down"] == [] and len(out["activate"]) > 150
    assert set(out["updated"]) <= set(out["unchanged"])
    text = run("diff", "--from", "22000", "--to", "4500")
    assert text.returncode == 0 and "tier I → IV" in text.stdout and "stand down" in text.stdout


def test_timeline_on_a_real_season():
    proc = run("timeline", str(FIX / "hyk_2019_summer.csv"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out) == 108 and set(out[0]) >= {"time", "tier", "reason"}
    tiers = {row["time"][:10]: row["tier"] for row in out}
    assert tiers["2019-06-29"] == "normal" and tiers["2019-06-30"] == "IV" and tiers["2019-07-12"] == "normal"
    text = run("timeline", str(FIX / "hyk_2019_summer.csv"))
    assert "6 tier changes" in text.stdout and "stand down from IV to normal" in text.stdout


def test_timeline_on_the_bulletin_long_format():
    proc = run("timeline", str(FIX / "yrcc_2018_07_excerpt.csv"), "--station", "Huayuankou", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["tier"] for r in json.loads(proc.stdout)].count("IV") == 5  # 07-19 .. 07-23


def test_timeline_bad_file(tmp_path):
    path = tmp_path / "flows.csv"
    path.write_text("time,discharge_m3s\n2021-09-01,4800\n2021-09-02,lots\n")
    proc = run("timeline", str(path))
    assert proc.returncode == 2 and f"{path}:3: discharge_m3s: expected a number" in proc.stderr


def test_tasks_with_risk_facts_from_a_hydraulic_run(tmp_path):
    path = tmp_path / "risk.json"
    path.write_text(json.dumps({
        "village_max_depth_m": {"V01": 0.0, "V02": 0.0, "V03": 1.4, "V04": 0.0, "V05": 0.0, "V06": 0.0},
        "segment_toe_depth_m": {"R-009": 0.6},
        "source": "2D floodplain run",
    }))
    proc = run("tasks", "--discharge", "5000", "--risk", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # water at a dike toe raises the tier to III; only the flooded village is evacuated first
    assert out["tier"] == "III" and "dike toe" in out["reason"] and "2D floodplain run" in out["reason"]
    special = [t["scope_id"] for t in out["tasks"] if t["template_id"] == "village.evacuate_special"]
    assert special == ["V03"]
    toe = {t["scope_id"]: t for t in out["tasks"] if t["template_id"] == "patrol.toe_watch"}
    assert "R-009" in toe and "fallback" not in toe["R-009"]["note_en"]
    # segments the run left out fall back to the rating rule, and say so
    assert all("fallback rating rule" in t["note_en"] for sid, t in toe.items() if sid != "R-009")
    path.write_text('{"village_max_depth_m": {"V01": "deep"}}')
    bad = run("tasks", "--discharge", "5000", "--risk", str(path))
    assert bad.returncode == 2 and f"{path}: village_max_depth_m.V01: expected a number" in bad.stderr


def test_fast_path_imports_no_heavy_library():
    # what keeps `preplan tasks` quick: no pandas/geopandas/xarray/numba behind the GeoPackage read
    code = ("import sys; from floodtwin.preplan import Preplan, ReachTables; p = Preplan.load(); "
            "n = len(p.tasks_for(p.decide(22000), ReachTables.read('huayuankou'))); "
            "print(n, [m for m in ('pandas', 'geopandas', 'xarray', 'numba', 'pyogrio', 'netCDF4') "
            "if m in sys.modules], 'floodtwin.reach.params' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    n, heavy = out.split(" ", 1)
    # nor the reach parameter file (read with the line-tracking YAML parser): the rating table answers
    assert int(n) > 250 and heavy.strip() == "[] False", out


def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "latin1.csv").write_bytes("time,discharge_m3s\n2021-09-01,4800 m³/s\n".encode("latin-1"))
    (tmp / "short.csv").write_text("time,discharge_m3s\n2021-09-01\n2021-09-02,4800\n")
    (tmp / "tz.csv").write_text("time,discharge_m3s\n2021-09-01T08:00+08:00,4800\n2021-09-02T08:00,4800\n")
    (tmp / "risk.json").write_bytes(b"\xff\xfe{}")
    return [
        (["check", str(tmp / "missing.yaml")], f"{tmp / 'missing.yaml'}: file not found"),
        (["check", str(tmp)], "is a directory, not a preplan YAML file"),
        (["tasks", "--discharge", "nan"], "--discharge nan m³/s: expected a finite number >= 0"),
        (["tasks", "--discharge", "5000", "--forecast", "-1"], "--forecast -1.0 m³/s: expected a finite number >= 0"),
        (["tasks", "--discharge", "5000", "--risk", str(tmp / "risk.json")], "risk.json: not UTF-8 text"),
        (["tasks", "--discharge", "5000", "--reach", str(tmp / "none.gpkg")], "reach GeoPackage not found"),
        (["diff", "--from", "-1", "--to", "22000"], "--from -1.0 m³/s: expected a finite number >= 0"),
        (["timeline", str(tmp / "missing.csv")], "missing.csv: file not found"),
        (["timeline", str(tmp / "latin1.csv")], "latin1.csv: not UTF-8 text"),
        (["timeline", str(tmp / "short.csv")], "short.csv:2: 1 field, but the header has 2"),
        (["timeline", str(tmp / "tz.csv")], "tz.csv:3: time: 2021-09-02T08:00 mixes time-zone-aware and naive"),
    ]


def test_bad_input_is_one_red_line_and_exit_2(tmp_path):
    for args, words in _bad_inputs(tmp_path):
        proc = run(*args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, (args, lines)
        assert words in lines[0], (args, lines[0])
        assert proc.stdout == "", (args, proc.stdout)


def test_risk_facts_naming_an_unknown_village_are_refused(tmp_path):
    risk = tmp_path / "risk.json"
    risk.write_text(json.dumps({"village_max_depth_m": {"V-NOPE": 1.2}}), encoding="utf-8")
    proc = run("tasks", "--discharge", "22000", "--risk", str(risk))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "village_max_depth_m.V-NOPE: no village 'V-NOPE' in reach huayuankou" in proc.stderr
