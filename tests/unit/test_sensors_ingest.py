"""Ingest: every validation rule with the quarantine row it leaves, ordering, late readings and
their re-evaluation, CSV = JSON Lines, the fast batch path = the record-by-record rules."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from floodtwin.errors import DataError, InputError
from floodtwin.sensors import readings as rd
from floodtwin.sensors.ingest import Ingestor, active_major_dangers
from floodtwin.sensors.store import open_db

NOW = datetime(2026, 7, 21, 12, 0, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))


@pytest.fixture
def ing(tmp_path, registry, th):
    conn = open_db(tmp_path / "ft.sqlite")
    yield Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    conn.close()


_DROP = object()


def msg(stone="ST001", seq=1, minutes=-60.0, **over) -> dict:
    """A valid reading (attitude 0/0: every baseline is within 3 degrees of it, so it is calm)."""
    base = {"stone_id": stone, "time": (NOW + timedelta(minutes=minutes)).astimezone(CST).isoformat(),
            "seq": seq, "roll_deg": 0.0, "pitch_deg": 0.0, "accel_g": [0.01, -0.01, 1.0],
            "battery_v": 3.9, "rssi_dbm": -72, "event": "heartbeat", "link": "ok"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


def feed(ing, items, now=NOW):
    lines = [x if isinstance(x, str) else json.dumps(x) for x in items]
    objs = rd.decode_json_lines(lines)
    return ing.ingest_batch(objs, lines, [f"test:{i + 1}" for i in range(len(lines))], now=now)


def quarantine(ing):
    return [dict(r) for r in ing.conn.execute("SELECT * FROM quarantine ORDER BY id")]


def stored(ing):
    return [tuple(r) for r in ing.conn.execute("SELECT stone_id, seq, time_utc, late FROM readings_utc "
                                               "ORDER BY stone_id, seq")]


def test_a_valid_reading_is_stored_in_utc(ing):
    s = feed(ing, [msg(seq=7, minutes=-30)])
    assert (s.accepted, sum(s.quarantined.values())) == (1, 0)
    assert stored(ing) == [("ST001", 7, "2026-07-21T11:30:00.000Z", 0)]
    row = ing.conn.execute("SELECT * FROM readings_utc").fetchone()
    assert (row["event"], row["link"], row["battery_v"], row["accel_z_g"]) == ("heartbeat", "ok", 3.9, 1.0)


@pytest.mark.parametrize("payload, detail", [
    ("{not json", "not JSON"),
    ('{"stone_id": "ST001", "roll_deg": NaN}', "not JSON"),
    ("[1, 2, 3]", "must be a JSON object"),
    (msg(seq=_DROP), "seq is missing"),
    (msg(stone=_DROP), "stone_id is missing"),
    (msg(seq="12"), "seq must be an integer"),
    (msg(seq=True), "seq must be an integer"),
    (msg(roll_deg="1.5"), "roll_deg must be a number"),
    (msg(battery_v=None), "battery_v is null"),
    (msg(accel_g=[0.0, 1.0]), "accel_g must be a list of three numbers"),
    (msg(event="wobble"), "event must be one of"),
    (msg(link="maybe"), "link must be one of"),
    (msg(colour="red"), "unknown field 'colour'"),
], ids=["not-json", "nan", "array", "no-seq", "no-stone", "seq-str", "seq-bool", "roll-str", "battery-null",
        "accel-2", "event", "link", "extra-field"])
def test_malformed_payloads_are_quarantined_raw(ing, payload, detail):
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    s = feed(ing, [raw])
    assert s.accepted == 0 and s.quarantined == {"malformed": 1}
    (q,) = quarantine(ing)
    assert q["reason"] == "malformed" and detail in q["detail"]
    assert q["raw"] == raw and q["source"] == "test:1"
    assert stored(ing) == []


def test_unknown_stone(ing):
    feed(ing, [msg(stone="ST999")])
    (q,) = quarantine(ing)
    assert (q["reason"], q["stone_id"], q["seq"]) == ("unknown_stone", "ST999", 1)


@pytest.mark.parametrize("time_text, detail", [
    ("yesterday at noon", "is not ISO 8601"),
    ("2026-07-21T10:00:00", "has no zone"),
    ("2026-13-40T10:00:00Z", "is not ISO 8601"),
])
def test_unparseable_or_zoneless_time(ing, time_text, detail):
    feed(ing, [msg(time=time_text)])
    (q,) = quarantine(ing)
    assert q["reason"] == "bad_time" and detail in q["detail"]


def test_future_time_beyond_five_minutes(ing):
    s = feed(ing, [msg(seq=1, minutes=4.9), msg(seq=2, minutes=5.2)])
    assert s.accepted == 1 and s.quarantined == {"future_time": 1}
    (q,) = quarantine(ing)
    assert q["seq"] == 2 and "5.2 min ahead" in q["detail"]


@pytest.mark.parametrize("field, value", [
    ("roll_deg", 181.0), ("pitch_deg", -90.5), ("battery_v", 9.9), ("battery_v", -0.1), ("rssi_dbm", 5),
    ("accel_g", [0.0, 0.0, 17.0]), ("seq", -1),
])
def test_values_out_of_physical_range(ing, field, value):
    raw = json.dumps(msg(**{field: value}))
    feed(ing, [raw])
    (q,) = quarantine(ing)
    assert q["reason"] == "out_of_range" and (field.split("_")[0] in q["detail"])


def test_identical_redeliveries_are_counted_as_already_stored_not_quarantined(ing):
    first = msg(seq=5, minutes=-40)
    s = feed(ing, [first, first])
    assert (s.accepted, s.already_stored, s.quarantined) == (1, 1, {})
    s = feed(ing, [first])
    assert (s.accepted, s.already_stored, s.quarantined) == (0, 1, {})
    # an older redelivery (not the newest seq) is found in the store; another layout of the same values too
    feed(ing, [msg(seq=6, minutes=-30)])
    s = feed(ing, [msg(seq=5, minutes=-40), {**first, "time": (NOW - timedelta(minutes=40)).isoformat()}])
    assert (s.already_stored, s.quarantined) == (2, {})
    assert quarantine(ing) == [] and [r[1] for r in stored(ing)] == [5, 6]
    assert s.to_dict()["received"] == s.accepted + s.already_stored + s.to_dict()["quarantined"]


def test_a_duplicate_seq_with_other_values_is_quarantined(ing):
    feed(ing, [msg(seq=5, minutes=-40), msg(seq=6, minutes=-30)])
    for changed in (msg(seq=6, minutes=-30, battery_v=3.1), msg(seq=5, minutes=-40, roll_deg=1.0)):
        s = feed(ing, [changed])
        assert (s.accepted, s.already_stored, s.quarantined) == (0, 0, {"duplicate": 1})
    details = [q["detail"] for q in quarantine(ing)]
    assert "ST001 seq 6 already stored with different values (stored time 2026-07-21T11:30:00.000Z)" in details[0]
    assert "seq 5 already stored with different values (stored time 2026-07-21T11:20:00.000Z)" in details[1]
    assert [q["raw"] for q in quarantine(ing)][0] == json.dumps(msg(seq=6, minutes=-30, battery_v=3.1))


def test_out_of_order_seq_and_time_contradict(ing):
    feed(ing, [msg(seq=10, minutes=-30)])
    s = feed(ing, [msg(seq=11, minutes=-50)])  # newer seq, older time
    assert s.quarantined == {"out_of_order": 1}
    feed(ing, [msg(seq=20, minutes=-10), msg(seq=25, minutes=-2)])
    s = feed(ing, [msg(seq=15, minutes=-5)])  # between 10 and 20 by seq, after 20 by time (not past 25)
    assert s.quarantined == {"out_of_order": 1}
    s = feed(ing, [msg(seq=5, minutes=-25)])  # before 10 by seq, after it by time
    assert s.quarantined == {"out_of_order": 1}
    reasons = [(q["reason"], q["seq"]) for q in quarantine(ing)]
    assert reasons == [("out_of_order", 11), ("out_of_order", 15), ("out_of_order", 5)]
    assert [r[1] for r in stored(ing)] == [10, 20, 25]
    assert ing.conn.execute("SELECT count(*) FROM seq_restarts").fetchone()[0] == 0


def test_late_reading_is_stored_and_the_alarms_re_evaluated(ing, registry):
    moved = registry["ST002"].baseline_roll_deg + 15
    # the stone shook at -20 and -19.9 min, but the first movement message arrives late
    feed(ing, [msg("ST002", 1, -60), msg("ST002", 3, -19.9, roll_deg=moved, event="movement"),
               msg("ST002", 4, -10)])
    assert ing.conn.execute("SELECT count(*) FROM alarm_events").fetchone()[0] == 0
    s = feed(ing, [msg("ST002", 2, -20, roll_deg=moved, event="movement")])
    assert (s.accepted, s.late) == (1, 1)
    assert [(e["from"], e["to"]) for e in s.events] == [("normal", "shaking")]
    ev = ing.conn.execute("SELECT * FROM alarm_events").fetchone()
    assert ev["t_ms"] == round((NOW - timedelta(minutes=19.9)).timestamp() * 1000)
    assert stored(ing)[1] == ("ST002", 2, "2026-07-21T11:40:00.000Z", 1)
    # a late reading that changes nothing leaves the events alone; one that undoes an event retracts it
    assert ing.machines["ST002"]["state"] == "shaking"


def test_late_reading_can_retract_an_event(ing):
    feed(ing, [msg("ST003", 1, -120), msg("ST003", 3, -20)])  # 100 min gap > 3 x 30 min: offline
    events = [tuple(r) for r in ing.conn.execute("SELECT kind, from_state, to_state, retracted_ms FROM alarm_events")]
    assert events == [("offline", "online", "offline", None), ("offline", "offline", "online", None)]
    s = feed(ing, [msg("ST003", 2, -70)])  # the missing heartbeat arrives: there was no outage
    assert s.retracted == 2
    assert ing.conn.execute("SELECT count(*) FROM alarm_events WHERE retracted_ms IS NULL").fetchone()[0] == 0


def test_what_the_supplier_schema_allows_is_accepted(ing):
    """A lower-case 'z' (RFC 3339) and a whole-number seq written as 12.0 (an integer to JSON Schema)."""
    s = feed(ing, [msg(seq=11, time="2026-07-21T10:00:00z"), msg(seq=12.0, minutes=-30), msg(seq=12.5, minutes=-20)])
    assert (s.accepted, dict(s.quarantined)) == (2, {"malformed": 1})
    assert [r[1:3] for r in stored(ing)] == [(11, "2026-07-21T10:00:00.000Z"), (12, "2026-07-21T11:30:00.000Z")]
    assert "seq must be an integer, got float" in quarantine(ing)[0]["detail"]


def test_link_lost_message_may_omit_values(ing):
    s = feed(ing, [msg(seq=1, minutes=-50), {"stone_id": "ST001", "time": "2026-07-21T11:20:00Z", "seq": 2,
                                             "event": "heartbeat", "link": "lost"}])
    assert s.accepted == 2
    row = ing.conn.execute("SELECT roll_deg, link FROM readings_utc WHERE seq = 2").fetchone()
    assert tuple(row) == (None, "lost")


def test_fast_batch_path_gives_the_record_by_record_verdicts(registry):
    """Random corruptions of valid records: validate_batch must agree with check_record."""
    rng = random.Random(7)
    now_ms = round(NOW.timestamp() * 1000)
    corruptions = [
        lambda m: m.update(roll_deg=rng.choice([400, "x", None, True, 1e308, -181])),
        lambda m: m.update(accel_g=rng.choice([[1, 2], [0, 0, 99], "a", None, [0, 0, True]])),
        lambda m: m.update(time=rng.choice([
            "2026-07-21T10:00:00", "nope", 5, "2026-07-21T13:00:00+00:00", "2026-07-21T10:00:00.1234+08:00",
            "2026-02-30T10:00:00Z", "0001-01-01T00:00:00Z", "2026-07-21T24:00:00Z", "2026-07-21T10:00:00+24:00",
            "2026-07-21T10:00:00.5-03:30", "2026-07-21 10:00:00Z", "2026-07-21T10:00:00.999999+05:45",
            "2026-07-21T10:00Z", "2026-07-21T09:59:59.9995+00:00", "2026-07-21T10:00:00z", "2026-07-21t10:00:00Z"])),
        lambda m: m.update(stone_id=rng.choice(["ST000", 17, None, "ST249", "ST250", ["ST001"]])),
        lambda m: m.update(rng.choice([{"event": [1]}, {"link": {"ok": 1}}, {"event": None}, {"link": 1}])),
        lambda m: m.update(seq=rng.choice([-3, 2**64, 1.5, "1", float(m["seq"]), -2.0])),
        lambda m: m.pop(rng.choice(list(m))),
        lambda m: m.update(link="lost"),
        lambda m: m.update(event=rng.choice(["movement", "x"])),
        lambda m: None,
    ]
    objs = []
    for k in range(600):
        m = msg(stone=f"ST{rng.randint(1, 249):03d}", seq=k, minutes=-rng.uniform(0, 600))
        for _ in range(rng.choice([0, 0, 1, 2])):
            rng.choice(corruptions)(m)
        objs.append(m)
    raws = [json.dumps(o) for o in objs]
    batch, rejections = rd.validate_batch(objs, raws, ["t"] * len(objs), registry.index, now_ms, 300_000)
    expected_good, expected_bad = [], []
    for o, raw in zip(objs, raws):
        try:
            expected_good.append(rd.check_record(o, registry.index, now_ms, 300_000))
        except rd.Rejected as exc:
            expected_bad.append((raw, exc.reason, exc.detail))
    assert [batch.row(i) for i in range(len(batch))] == expected_good
    assert [(r.raw, r.reason, r.detail) for r in rejections] == expected_bad
    assert 100 < len(expected_good) < 500 and {r.reason for r in rejections} >= {
        "malformed", "unknown_stone", "bad_time", "future_time", "out_of_range"}


def test_csv_and_json_lines_give_the_same_store(tmp_path, registry, th):
    rows = [msg("ST010", 1, -90), msg("ST010", 2, -60, roll_deg=99.0, event="movement"),
            msg("ST011", 1, -30, battery_v=7.0), msg("ST012", 4, -20),
            {"stone_id": "ST012", "time": "2026-07-21T11:50:00Z", "seq": 5, "event": "heartbeat", "link": "lost"},
            msg("ST012", 6.0, -5)]  # a spreadsheet's whole number
    jl = tmp_path / "r.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    cv = tmp_path / "r.csv"
    lines = [",".join(rd.CSV_FIELDS)]
    for r in rows:
        a = r.get("accel_g") or ["", "", ""]
        vals = {**r, "accel_x_g": a[0], "accel_y_g": a[1], "accel_z_g": a[2]}
        lines.append(",".join("" if vals.get(c) is None else str(vals[c]) for c in rd.CSV_FIELDS))
    lines.append("ST013,broken")
    cv.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # as spreadsheets save it, with a BOM
    out = {}
    for path in (jl, cv):
        conn = open_db(tmp_path / f"{path.suffix}.sqlite")
        s = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW).ingest_file(path)
        out[path.suffix] = (s.accepted, dict(s.quarantined), [tuple(r) for r in conn.execute(
            "SELECT stone_id, seq, time_utc, roll_deg, pitch_deg, accel_x_g, accel_y_g, accel_z_g, battery_v, "
            "rssi_dbm, event, link FROM readings_utc ORDER BY stone_id, seq")])
        conn.close()
    assert out[".jsonl"][0] == 5 and out[".jsonl"][1] == {"out_of_range": 1}
    assert out[".csv"][2][-1][:2] == ("ST012", 6)
    assert out[".csv"][1] == {"out_of_range": 1, "malformed": 1}
    assert out[".csv"][2] == out[".jsonl"][2]


def test_bad_files_are_one_line_errors(tmp_path, ing):
    with pytest.raises(InputError, match="file not found"):
        ing.ingest_file(tmp_path / "nope.jsonl")
    (tmp_path / "x.txt").write_text("a", encoding="utf-8")
    with pytest.raises(InputError, match="unknown file type"):
        ing.ingest_file(tmp_path / "x.txt")
    (tmp_path / "h.csv").write_text("stone_id,time\nST001,2026-07-21T10:00:00Z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"h.csv:1: CSV header: missing column 'seq'"):
        ing.ingest_file(tmp_path / "h.csv")


def test_state_survives_a_new_ingestor(tmp_path, registry, th):
    path = tmp_path / "ft.sqlite"
    conn = open_db(path)
    Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW).ingest_batch(
        [msg(seq=3, minutes=-30)], ["x"], ["t"])
    conn.close()
    conn = open_db(path)
    ing2 = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    s = feed(ing2, [msg(seq=3, minutes=-30), msg(seq=4, minutes=-40)])
    assert (s.already_stored, s.quarantined) == (1, {"out_of_order": 1})
    assert active_major_dangers(conn) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_arrival_order_ends_with_the_in_order_alarms(tmp_path, registry, th, seed):
    """Late readings are stored and re-evaluated: whatever the arrival order, the alarms that
    stand at the end are those of in-order arrival (shaking, displaced, offline and back, battery)."""
    rng = random.Random(seed)
    base = registry["ST004"].baseline_roll_deg
    new = base + 18
    rows = [msg("ST004", 1, -300), msg("ST004", 2, -270, battery_v=3.2), msg("ST004", 3, -240, battery_v=3.2)]
    rows += [msg("ST004", 4, -120), msg("ST004", 5, -119.9, roll_deg=new, event="movement", accel_g=[0.5, 0, 2.3]),
             msg("ST004", 6, -119.8, roll_deg=new, event="movement", accel_g=[0.4, 0, 2.2])]
    rows += [msg("ST004", 7 + k, -118 + k, roll_deg=new + 0.2 * k) for k in range(4)]
    rows += [msg("ST004", 11, -60, roll_deg=new), msg("ST004", 12, -30, roll_deg=new)]

    def final_events(order, path):
        conn = open_db(path)
        ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
        for r in order:  # one message per batch: every late one triggers a re-evaluation
            line = json.dumps(r)
            ing.ingest_batch(rd.decode_json_lines([line]), [line], ["t"])
        events = [tuple(e) for e in conn.execute(
            "SELECT t_ms, kind, from_state, to_state FROM alarm_events WHERE retracted_ms IS NULL ORDER BY t_ms, id")]
        state = ing.machines["ST004"]["state"]
        conn.close()
        return events, state

    in_order, state = final_events(rows, tmp_path / "a.sqlite")
    assert [e[1:] for e in in_order] == [("battery", "ok", "low"), ("offline", "online", "offline"),
                                         ("offline", "offline", "online"), ("battery", "low", "ok"),
                                         ("state", "normal", "shaking"), ("state", "shaking", "displaced")]
    assert state == "displaced"
    shuffled = rows[:]
    rng.shuffle(shuffled)
    got, got_state = final_events(shuffled, tmp_path / "b.sqlite")
    assert got == in_order and got_state == state


def test_a_failed_batch_leaves_nothing_behind_and_can_be_retried(ing):
    lines = [json.dumps(msg(seq=k, minutes=-60 + k)) for k in range(1, 6)]
    # a trigger makes the 5th insert fail inside the batch's transaction
    ing.conn.execute("CREATE TRIGGER boom BEFORE INSERT ON readings WHEN NEW.seq = 5 "
                     "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(DataError, match=r"ft.sqlite: disk on fire: the batch of 5 readings was rolled back"):
        ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * 5)
    assert stored(ing) == [] and quarantine(ing) == []
    ing.conn.execute("DROP TRIGGER boom")
    s = ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * 5)
    assert s.accepted == 5 and not s.quarantined
    assert [r[1] for r in stored(ing)] == [1, 2, 3, 4, 5]


def test_bytes_that_are_not_utf8_are_quarantined_not_fatal(tmp_path, ing):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(msg(seq=1, minutes=-10)).encode()
    path.write_bytes(good + b"\n" + b'{"stone_id": "ST\xff\xfe01"}\n' + b"\x80\x81garbage\n")
    s = ing.ingest_file(path)
    assert s.accepted == 1 and s.quarantined == {"malformed": 2}
    raws = [q["raw"] for q in quarantine(ing)]
    assert raws == ['{"stone_id": "ST\\xff\\xfe01"}', "\\x80\\x81garbage"]
    assert [q["source"] for q in quarantine(ing)] == ["bad.jsonl:2", "bad.jsonl:3"]


@pytest.mark.parametrize("intervals", [2, 3])
def test_offline_after_the_configured_number_of_silent_intervals(tmp_path, registry, th, intervals):
    """``offline_intervals`` of the thresholds YAML, not a constant, sets how long a stone may be silent."""
    assert registry["ST005"].report_interval_min == 30
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th.model_copy(update={"offline_intervals": intervals}),
                   clock=lambda: NOW)
    # a gap of 75 min (2.5 intervals) in the readings: offline with 2 intervals, nothing with 3
    s = feed(ing, [msg("ST005", 1, -200), msg("ST005", 2, -125)])
    got = [(e["kind"], e["to"], e["time"]) for e in s.events]
    if intervals == 2:
        assert got == [("offline", "offline", "2026-07-21T09:40:00.000Z"),
                       ("offline", "online", "2026-07-21T09:55:00.000Z")]
    else:
        assert got == []
    # the clock: silent since 09:55, swept at 11:26 (91 min) -> offline with 2 (at 10:55) and with 3 (at 11:25)
    swept = ing.sweep(NOW - timedelta(minutes=34))
    assert [(e["kind"], e["to"], e["time"]) for e in swept.events] == [
        ("offline", "offline", "2026-07-21T10:55:00.000Z" if intervals == 2 else "2026-07-21T11:25:00.000Z")]


@pytest.mark.parametrize("one_batch", [True, False], ids=["one-batch", "reading-by-reading"])
def test_a_30_minute_stone_that_slides_and_stays_is_displaced_through_the_ingest(ing, registry, one_batch):
    """Issue 20.1 end to end: a movement message, then ST005's regular 30-minute reports from an
    attitude 25 degrees off. The fast path (calm stones in bulk) must keep the stone's own window."""
    assert registry["ST005"].report_interval_min == 30
    shock = [0.5, 0.3, 2.6]
    items = [msg("ST005", 1, -240), msg("ST005", 2, -210), msg("ST005", 3, -185, roll_deg=25.0, accel_g=shock,
                                                               event="movement")]
    items += [msg("ST005", 4 + k, -180 + 30 * k, roll_deg=25.0) for k in range(4)]
    events = []
    if one_batch:
        events = feed(ing, items).events
    else:
        for item in items:
            events += feed(ing, [item]).events
    assert [(e["from"], e["to"], e["time"]) for e in events] == [
        ("normal", "shaking", "2026-07-21T09:00:00.000Z"), ("shaking", "displaced", "2026-07-21T09:30:00.000Z")]
    assert [d["stone_id"] for d in active_major_dangers(ing.conn)] == ["ST005"]
