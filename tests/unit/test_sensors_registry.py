"""The smart-stone registry: built from the reach's stones layer, stored with stable numbers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from floodtwin.sensors import readings as rd
from floodtwin.sensors.alarms import load_thresholds
from floodtwin.sensors.ingest import Ingestor
from floodtwin.sensors.store import open_db

NOW = datetime(2026, 7, 21, 12, 0, tzinfo=timezone.utc)


def test_registry_matches_the_reach_stones_layer(registry):
    from floodtwin.reach import load_reach

    reach = load_reach("huayuankou")
    assert len(registry) == 249 == len(reach.stones)
    assert registry.ids == list(reach.stones["stone_id"])
    works = set(reach.works["works_id"])
    depots = reach.depots.set_index("depot_id")
    for s in registry:
        assert s.works_id in works and s.spur_id.startswith(s.works_id + "-")
        assert s.report_interval_min > 0 and s.install_depth_m > 0
        # the depot is the nearest one that stocks both stone and gabions
        stocked = depots[(depots.stone_m3 > 0) & (depots.gabions > 0)]
        dist = stocked.geometry.distance(reach.stones.geometry[registry.index[s.stone_id]])
        assert s.depot_id == dist.idxmin() and s.depot_distance_m == pytest.approx(dist.min(), abs=0.1)
        assert s.grid_id in set(reach.grids["grid_id"])
    first = registry["ST001"]
    row = reach.stones.iloc[0]
    assert (first.baseline_roll_deg, first.baseline_pitch_deg, first.x_m) == (
        row.baseline_roll_deg, row.baseline_pitch_deg, row.geometry.x)


def _msg(sid, seq, t, roll, event="heartbeat", accel=(0.0, 0.0, 1.0), link="ok"):
    if link == "lost":
        return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "event": event, "link": link}
    return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "roll_deg": roll, "pitch_deg": 0.0,
            "accel_g": list(accel), "battery_v": 3.8, "rssi_dbm": -70, "event": event, "link": link}


def test_saving_a_changed_registry_keeps_numbers_and_history(tmp_path, registry):
    from floodtwin.sensors.registry import Registry, registry_from_db, save_registry

    conn = open_db(tmp_path / "ft.sqlite")
    save_registry(conn, registry)
    numbers = registry_from_db(conn).numbers
    ing = Ingestor(conn, registry=registry_from_db(conn), thresholds=load_thresholds(), clock=lambda: NOW)
    line = json.dumps(_msg("ST002", 1, NOW - timedelta(minutes=5), 0.0))
    ing.ingest_batch(rd.decode_json_lines([line]), [line], ["t"])
    smaller = Registry([s for s in registry if s.stone_id not in ("ST001", "ST002")], reach=registry.reach)
    save_registry(conn, smaller)
    again = registry_from_db(conn)
    # ST001 (no readings) is gone; ST002 keeps its row because readings refer to it; numbers are stable
    assert "ST001" not in again and "ST002" in again and len(again) == 248
    assert all(again.numbers[s] == numbers[s] for s in again.ids)
