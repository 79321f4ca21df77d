"""A 24-hour simulation of all 249 stones: the alarms must match the injected events exactly,
and every bad message must be quarantined under its reason."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from floodtwin.sensors.ingest import Ingestor, active_major_dangers
from floodtwin.sensors.simulate import EVENT_KINDS, compare_alarms, simulate
from floodtwin.sensors.store import ms_to_iso, open_db

START = datetime(2026, 7, 21, tzinfo=timezone.utc)


def events_of(conn):
    return [{"stone_id": r[0], "time": ms_to_iso(r[1]), "kind": r[2], "from": r[3], "to": r[4]}
            for r in conn.execute("SELECT stone_id, t_ms, kind, from_state, to_state FROM alarm_events "
                                  "WHERE retracted_ms IS NULL ORDER BY t_ms, id")]


@pytest.mark.parametrize("seed", [1, 2])
def test_24_hours_of_249_stones_alarms_match_the_injected_events(tmp_path, registry, th, seed):
    assert len(registry) == 249
    sim = simulate(registry, th, start=START, hours=24, events=18, bad=3, seed=seed)
    assert {i["kind"] for i in sim.injected} == set(EVENT_KINDS)
    # every stone reports: 48 heartbeats a day at 30 min, give or take the injected events
    assert {s for s, _ in sim.messages} >= set(registry.ids)
    path = tmp_path / "sim.jsonl"
    path.write_text("".join(p.replace("\n", " ") + "\n" for _, p in sim.messages), encoding="utf-8")
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: sim.end)
    summary = ing.ingest_file(path, now=sim.end, batch_size=3000)
    assert summary.accepted == sim.valid
    assert summary.late == sim.late == 3
    assert summary.already_stored == sim.redelivered == 3
    assert dict(summary.quarantined) == sim.quarantine
    assert sum(sim.quarantine.values()) == 21
    # the restarted counters: recorded from the seq before to 1, and those stones alarm all the same
    restarted = [i["stone_id"] for i in sim.injected if i["kind"] == "restart"]
    assert len(restarted) == 2 and sorted(r["stone_id"] for r in sim.restarts) == sorted(restarted)
    assert sorted((r["stone_id"], r["from_seq"], r["to_seq"]) for r in summary.restarts) == sorted(
        (r["stone_id"], r["from_seq"], r["to_seq"]) for r in sim.restarts)
    assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == sim.valid
    assert compare_alarms(sim.expected, events_of(conn)) == []
    # the majors feed the preplan trigger
    majors = {(d["stone_id"], d["state"]) for d in active_major_dangers(conn)}
    injected = {i["stone_id"]: i["kind"] for i in sim.injected}
    assert majors == {(s, "displaced" if k == "displacement" else "lost") for s, k in injected.items()
                      if k in ("displacement", "loss", "restart")}


def test_the_comparison_catches_a_missing_a_spurious_and_a_late_alarm(tmp_path, registry, th):
    sim = simulate(registry, th, start=START, hours=12, events=6, bad=0, seed=3)
    path = tmp_path / "sim.jsonl"
    path.write_text("".join(p + "\n" for _, p in sim.messages), encoding="utf-8")
    conn = open_db(tmp_path / "ft.sqlite")
    Ingestor(conn, registry=registry, thresholds=th, clock=lambda: sim.end).ingest_file(path)
    events = events_of(conn)
    assert compare_alarms(sim.expected, events) == []
    assert compare_alarms(sim.expected, events[1:])
    assert compare_alarms(sim.expected, events + [{**events[0], "stone_id": "ST248"}])
    last = events[-1]
    shifted = events[:-1] + [{**last, "time": "2030-01-01T00:00:00.000Z"}]
    assert any(last["stone_id"] in p and "expected between" in p for p in compare_alarms(sim.expected, shifted))


def test_simulation_is_deterministic_and_validates_arguments(registry, th):
    a = simulate(registry, th, start=START, hours=8, events=4, seed=11)
    b = simulate(registry, th, start=START, hours=8, events=4, seed=11)
    assert a.messages == b.messages and a.expected == b.expected
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate(registry, th, start=datetime(2026, 7, 21), hours=8)
    with pytest.raises(ValueError, match="at least 6 hours"):
        simulate(registry, th, start=START, hours=2, events=1)
    with pytest.raises(ValueError, match="must not be negative"):
        simulate(registry, th, start=START, hours=8, events=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        simulate(registry, th, start=START, hours=8, bad=-2)
    with pytest.raises(ValueError, match="must be positive"):
        simulate(registry, th, start=START, hours=0, events=0)
    # every bad message needs a quiet stone besides the event, late and out-of-order stones
    with pytest.raises(ValueError, match="at most 244 events"):
        simulate(registry, th, start=START, hours=8, events=245, bad=2)
    # the late and out-of-order readings are drawn from a stone's six readings or more
    with pytest.raises(ValueError, match="bad messages need at least 6 readings of a stone"):
        simulate(registry, th, start=START, hours=2, events=0, bad=1)
    # an outage longer than the time an event has to complete would leave a wrong truth
    with pytest.raises(ValueError, match="outage of offline_intervals = 6 intervals does not fit"):
        simulate(registry, th.model_copy(update={"offline_intervals": 6}), start=START, hours=24, events=6)


def test_the_shortest_simulation_with_bad_messages_is_exact(tmp_path, registry, th):
    """Four hours (eight readings a stone): every bad message lands under its reason."""
    sim = simulate(registry, th, start=START, hours=4, events=0, bad=2, seed=8)
    summary, conn = ingest(tmp_path, sim, registry, th)
    assert dict(summary.quarantined) == sim.quarantine and sum(sim.quarantine.values()) == 14
    assert summary.accepted == sim.valid and summary.late == sim.late == 2
    assert events_of(conn) == []


@pytest.mark.parametrize("intervals", [2, 4])
def test_the_truth_follows_the_configured_offline_intervals(tmp_path, registry, th, intervals):
    th_k = th.model_copy(update={"offline_intervals": intervals})
    sim = simulate(registry, th_k, start=START, hours=12, events=6, bad=0, seed=3)
    (outage,) = [i for i in sim.injected if i["kind"] == "outage"]
    offline = sim.expected[outage["stone_id"]][0]
    assert (offline["kind"], offline["to"]) == ("offline", "offline")
    # silent from the last heartbeat before the outage (up to one 30-min interval and a minute earlier)
    after = datetime.fromisoformat(offline["after"]) - datetime.fromisoformat(outage["time"])
    assert after.total_seconds() == (intervals - 1) * 1800 - 60
    summary, conn = ingest(tmp_path, sim, registry, th_k)
    assert compare_alarms(sim.expected, events_of(conn)) == []


def ingest(tmp_path, sim, registry, th):
    path = tmp_path / "sim.jsonl"
    path.write_text("".join(p.replace("\n", " ") + "\n" for _, p in sim.messages), encoding="utf-8")
    conn = open_db(tmp_path / "ft.sqlite")
    summary = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: sim.end).ingest_file(path, now=sim.end)
    return summary, conn
