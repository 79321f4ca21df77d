"""Unit tests of field reports against the real reach: locating, rejecting, dispatching, map layer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from floodtwin import reports
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import load_config
from floodtwin.db import connect
from floodtwin.errors import InputError

T0 = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def index(reach):
    return reports.ReachIndex(reach)


@pytest.fixture()
def env(tmp_path, reach, index):
    conn = connect(tmp_path / "ft.sqlite")
    ensure_schema(conn)
    yield conn, dict(reach=index, config=load_config(), roster=Roster.from_reach(reach))
    conn.close()


def test_chainage_posts():
    assert reports.parse_chainage("7+350") == 7350.0
    assert reports.parse_chainage(12595.3) == 12595.3
    assert reports.post_label(7350.4) == "7+350"
    with pytest.raises(reports.Rejected, match="7-350"):
        reports.parse_chainage("7-350")


def test_root_stone_loss_at_a_spur_sets_off_riprap_there(env, reach):
    conn, kw = env
    row = reports.add_report(conn, {"danger_kind": "root_stone_loss", "works_id": "HYK", "spur": "90",
                                    "reporter": "S100", "photo": "/photos/a.jpg"}, now=T0, actor="app", **kw)
    assert row["status"] == "accepted" and row["spur_id"] == "HYK-090" and row["works_id"] == "HYK"
    spur = reach.spurs.set_index("spur_id").loc["HYK-090"]
    assert row["chainage_m"] == pytest.approx(spur["chainage_m"])
    assert row["grid_id"].startswith("X")  # the works' exclusive grid
    keys = row["task_keys"]
    task = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (keys[0],)).fetchone())
    assert task["template_id"] == "danger-rootstone-riprap" and task["source"] == "report"
    assert task["owner_role"] == "team_member" and "将军坝" in task["title_zh"]
    assert json.loads(task["materials"])[0]["item"] == "stone"
    # at the spur root: within the spur's length of the dike point
    assert (task["x"] - spur.geometry.coords[0][0]) ** 2 + (task["y"] - spur.geometry.coords[0][1]) ** 2 < 1.0
    # the grid leader and the town command are told
    recipients = {r[0] for r in conn.execute("SELECT recipient FROM outbox WHERE kind='danger_report'")}
    assert "TOWN" in recipients and len(recipients) == 2
    dangers = reports.active_major_dangers(conn)
    assert [(d["works_id"], d["kind"], d["severity"], d["source"]) for d in dangers] == [
        ("HYK", "root_stone_loss", "major", "field_report")]


def test_leak_at_a_chainage_plugs_there_and_resolve_clears_trigger(env):
    conn, kw = env
    row = reports.add_report(conn, {"danger_kind": "leak", "dike_id": "right", "chainage": "8+200",
                                    "reporter": "S010", "text": "浑水"}, now=T0, actor="app", **kw)
    assert row["status"] == "accepted" and row["severity"] == "critical" and row["works_id"] == "HYK"
    titles = [r[0] for r in conn.execute("SELECT title_en FROM tasks ORDER BY key")]
    assert any("plugging" in t and "8+200" in t for t in titles)
    assert len(reports.active_major_dangers(conn)) == 1
    reports.resolve_report(conn, row["report_id"], now=T0 + timedelta(hours=2), actor="TOWN", reason="plugged")
    assert reports.active_major_dangers(conn) == []


def test_general_seepage_and_lonlat_reports(env):
    conn, kw = env
    row = reports.add_report(conn, {"danger_kind": "seepage", "lon": 113.70, "lat": 34.905, "reporter": "S010"},
                             now=T0, actor="app", **kw)
    assert row["status"] == "accepted" and row["severity"] == "general" and row["dike_id"] == "right"
    assert reports.active_major_dangers(conn) == []  # general danger: no tier trigger
    patrol = reports.add_report(conn, {"kind": "patrol", "grid_id": "G07", "reporter": "S020",
                                       "text": "route done, nothing found", "chainage": 5000}, now=T0, actor="app", **kw)
    assert patrol["status"] == "accepted" and patrol["grid_id"] == "G07"
    whole = reports.add_report(conn, {"kind": "patrol", "grid_id": "G12", "reporter": "S021",
                                      "text": "巡查完毕，未发现险情"}, now=T0, actor="app", **kw)
    assert whole["status"] == "accepted" and whole["grid_id"] == "G12" and whole["lon"] is not None


@pytest.mark.parametrize("raw, reason", [
    ({"danger_kind": "flood_monster", "chainage": 5000, "reporter": "S101"}, "danger kind 'flood_monster'"),
    ({"danger_kind": "leak", "works_id": "ZZZ", "reporter": "S101"}, "unknown works 'ZZZ'"),
    ({"danger_kind": "leak", "chainage": 5000, "grid_id": "G99", "reporter": "S101"}, "unknown grid 'G99'"),
    ({"danger_kind": "leak", "lon": 116.4, "lat": 39.9, "reporter": "S101"}, "outside the reach"),
    ({"danger_kind": "leak", "chainage": 99000, "reporter": "S101"}, "outside the right dike"),
    ({"danger_kind": "leak", "works_id": "HYK", "spur": "MD-001", "reporter": "S101"}, "belongs to works MD"),
    ({"danger_kind": "leak", "reporter": "S101"}, "no location"),
    ({"danger_kind": "leak", "grid_id": "G07", "reporter": "S101"}, "no location"),
    ({"danger_kind": "leak", "chainage": 5000}, "no reporter"),
    ({"danger_kind": "leak", "chainage": 5000, "reporter": "S101", "severity": "huge"}, "severity 'huge'"),
])
def test_rejected_reports_are_kept_with_the_reason(env, raw, reason):
    conn, kw = env
    row = reports.add_report(conn, raw, now=T0, actor="app", **kw)
    assert row["status"] == "rejected" and reason in row["reject_reason"]
    stored = reports.list_reports(conn, status="rejected")
    assert len(stored) == 1 and json.loads(stored[0]["raw"]) == raw
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0


def test_jsonl_import_is_idempotent_and_keeps_bad_lines(env, tmp_path):
    conn, kw = env
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "APP-1", "danger_kind": "piping", "chainage": "9+100", "reporter": "S030"}),
        "{not json",
        json.dumps({"id": "APP-2", "kind": "patrol", "grid_id": "G03", "reporter": "S031", "chainage": 2500}),
        json.dumps([1, 2]),
    ]) + "\n", encoding="utf-8")
    first = reports.import_jsonl(conn, path, now=T0, actor="app", **kw)
    assert [r["status"] for r in first] == ["accepted", "rejected", "accepted", "rejected"]
    assert "reports.jsonl:2" in first[1]["reject_reason"]
    again = reports.import_jsonl(conn, path, now=T0 + timedelta(minutes=5), actor="app", **kw)
    assert all(r["duplicate"] for r in again if r["status"] == "accepted")
    assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 4
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 1


def test_geojson_layer_colours_tasks_and_reports(env):
    conn, kw = env
    reports.add_report(conn, {"danger_kind": "bank_collapse", "works_id": "MD", "spur": "MD-027",
                              "reporter": "S200"}, now=T0, actor="app", **kw)
    doc = reports.export_geojson(conn)
    layers = {f["properties"]["layer"]: f for f in doc["features"]}
    rep, task = layers["report"], layers["task"]
    assert rep["properties"]["colour"] == reports.load_dangers().kinds["bank_collapse"].colour
    assert rep["properties"]["label_zh"] == "坍塌/坍岸"
    assert task["properties"]["state"] == "dispatched" and task["properties"]["colour"].startswith("#")
    lon, lat = rep["geometry"]["coordinates"]
    # Madu works lies near 34.89 N 113.80 E (docs/reach.md §3, ±2 km)
    assert abs(lon - 113.80) < 0.05 and abs(lat - 34.89) < 0.05


#: every danger term of docs/reach.md §5 a field report can name, with its Chinese term
DOMAIN_DANGERS = {"leak": "漏洞", "piping": "管涌", "seepage": "渗水", "slope_slip": "脱坡/滑坡", "crack": "裂缝",
                  "bank_collapse": "坍塌/坍岸", "sinkhole": "陷坑", "overtopping": "漫溢/漫顶",
                  "root_stone_loss": "根石走失", "spur_settlement": "坝身蛰裂"}


def test_the_danger_table_has_every_kind_of_the_domain():
    table = reports.load_dangers()
    assert {k: v.zh for k, v in table.kinds.items()} == DOMAIN_DANGERS
    assert len({v.colour for v in table.kinds.values()}) == len(table.kinds)  # each its own map colour


@pytest.mark.parametrize("kind", sorted(DOMAIN_DANGERS))
def test_each_danger_kind_is_accepted_and_sets_off_its_tasks(env, kind):
    conn, kw = env
    row = reports.add_report(conn, {"danger_kind": kind, "works_id": "HYK", "spur": "HYK-090", "reporter": "S100"},
                             now=T0, actor="app", **kw)
    assert row["status"] == "accepted" and row["danger_kind"] == kind
    table = reports.load_dangers()
    spec = table.kinds[kind]
    keys = row["task_keys"]
    templates = [r[0] for r in conn.execute(f"SELECT template_id FROM tasks WHERE key IN ({','.join('?' * len(keys))})"
                                            " ORDER BY template_id", keys)]
    assert templates == sorted(t.id for t in spec.tasks) and templates
    at_works = reports.active_major_dangers(conn)
    major = table.rank(spec.default_severity) >= table.rank(table.major_from)
    assert [d["kind"] for d in at_works] == ([kind] if major else [])


def test_same_id_with_other_content_is_kept_as_rejected(env):
    conn, kw = env
    first = reports.add_report(conn, {"id": "APP-9", "kind": "patrol", "grid_id": "G07", "reporter": "S101"},
                               now=T0, actor="app", **kw)
    same = reports.add_report(conn, {"id": "APP-9", "kind": "patrol", "grid_id": "G07", "reporter": "S101"},
                              now=T0 + timedelta(minutes=1), actor="app", **kw)
    assert first["status"] == "accepted" and same["duplicate"] and same["report_id"] == "APP-9"
    other = {"id": "APP-9", "danger_kind": "leak", "chainage": "8+200", "reporter": "S102"}
    clash = reports.add_report(conn, other, now=T0 + timedelta(minutes=2), actor="app", **kw)
    assert clash["status"] == "rejected" and clash["report_id"] != "APP-9" and not clash["duplicate"]
    assert "APP-9 was already used by a different report" in clash["reject_reason"]
    assert json.loads(clash["raw"]) == other
    assert reports.add_report(conn, other, now=T0 + timedelta(minutes=3), actor="app", **kw)["duplicate"]
    assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0  # the leak was not acted on


@pytest.mark.parametrize("raw, reason", [
    ({"id": {"x": 1}, "kind": "patrol", "grid_id": "G07", "reporter": "S101"}, "id {'x': 1}: expected a plain id"),
    ({"id": "a b/../c", "kind": "patrol", "grid_id": "G07", "reporter": "S101"}, "expected a plain id"),
    ({"kind": "patrol", "grid_id": "G07", "reporter": "S101", "observed_at": "yesterday"},
     "observed_at 'yesterday': expected an ISO 8601 time"),
    ({"danger_kind": "leak", "lon": float("nan"), "lat": 34.9, "reporter": "S101"}, "not a WGS 84 position"),
    ({"danger_kind": "leak", "chainage": float("nan"), "reporter": "S101"}, "not a finite number"),
])
def test_malformed_fields_are_rejected_and_kept(env, raw, reason):
    conn, kw = env
    row = reports.add_report(conn, raw, now=T0, actor="app", **kw)
    assert row["status"] == "rejected" and reason in row["reject_reason"]
    assert reports.list_reports(conn, status="rejected")[0]["raw"] == row["raw"]


def test_jsonl_import_keeps_undecodable_lines_and_reads_the_rest(env, tmp_path):
    conn, kw = env
    path = tmp_path / "upload.jsonl"
    good = json.dumps({"id": "APP-3", "kind": "patrol", "grid_id": "G03", "reporter": "S031"}).encode()
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n\xff\xfe\x00broken\n" + b"[" * 100_000 + b"\n")
    rows = reports.import_jsonl(conn, path, now=T0, actor="app", **kw)
    assert [r["status"] for r in rows] == ["accepted", "rejected", "rejected"]
    assert "upload.jsonl:2: not UTF-8 text" in rows[1]["reject_reason"] and "\\xff" in rows[1]["raw"]
    assert "upload.jsonl:3:" in rows[2]["reject_reason"]
    again = reports.import_jsonl(conn, path, now=T0 + timedelta(minutes=1), actor="app", **kw)
    assert all(r["duplicate"] for r in again)
    assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 3
    with pytest.raises(InputError, match="is a directory"):
        reports.import_jsonl(conn, tmp_path, now=T0, actor="app", **kw)


def test_geojson_flags_overdue_tasks_at_a_given_time(env):
    conn, kw = env
    reports.add_report(conn, {"danger_kind": "piping", "chainage": "9+100", "reporter": "S030"}, now=T0,
                       actor="app", **kw)
    early = reports.export_geojson(conn, now=T0 + timedelta(minutes=2), config=kw["config"])
    late = reports.export_geojson(conn, now=T0 + timedelta(minutes=4), config=kw["config"])
    task = [f for f in early["features"] if f["properties"]["layer"] == "task"]
    assert len(task) == 1 and task[0]["properties"]["overdue"] == []
    assert [f["properties"]["overdue"] for f in late["features"] if f["properties"]["layer"] == "task"] == [["ack"]]


def test_a_report_from_an_unknown_reporter_or_handed_in_by_nobody_known_is_rejected_and_kept(env):
    conn, kw = env
    raw = {"danger_kind": "leak", "dike_id": "right", "chainage": "8+200", "reporter": "S999"}
    row = reports.add_report(conn, raw, now=T0, actor="app", **kw)
    assert row["status"] == "rejected" and row["reject_reason"] == "reporter 'S999' is not a staff id of the roster"
    assert row["task_keys"] == [] and conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0
    by = reports.add_report(conn, {**raw, "reporter": "S010"}, now=T0, actor="someone", **kw)
    assert by["status"] == "rejected" and by["reject_reason"].startswith("handed in by 'someone': not a staff id")
    kept = reports.list_reports(conn, status="rejected")
    assert len(kept) == 2 and {json.loads(r["raw"])["reporter"] for r in kept} == {"S999", "S010"}
    assert [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")] == ["report_rejected"] * 2
    # the report handed in by the staff member himself is taken (sent again under its own id)
    again = reports.add_report(conn, {**raw, "reporter": "S010", "id": "APP-42"}, now=T0, actor="S010", **kw)
    assert again["status"] == "accepted" and len(again["task_keys"]) > 0


def test_rows_carry_the_task_keys_as_a_list_and_only_a_person_resolves(env):
    conn, kw = env
    row = reports.add_report(conn, {"danger_kind": "piping", "chainage": "9+100", "reporter": "S030"}, now=T0,
                             actor="app", **kw)
    assert isinstance(row["task_keys"], list) and len(row["task_keys"]) == 1
    assert reports.list_reports(conn)[0]["task_keys"] == row["task_keys"]
    assert json.loads(conn.execute("SELECT task_keys FROM reports").fetchone()[0]) == row["task_keys"]  # stored as text
    for who in ("S999", "sensors"):
        with pytest.raises(InputError, match=f"^{who} may not resolve report {row['report_id']}"):
            reports.resolve_report(conn, row["report_id"], now=T0, actor=who, reason="dealt with")
    refused = conn.execute("SELECT actor, report_id FROM events WHERE kind='refused' ORDER BY id").fetchall()
    assert [tuple(r) for r in refused] == [("S999", row["report_id"]), ("sensors", row["report_id"])]
    assert reports.resolve_report(conn, row["report_id"], now=T0, actor="S030", reason="filter well")["resolved_at"]
