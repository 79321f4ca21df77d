"""Build the reach GeoPackage layers and the DEM from the parameter file.

``python -m floodtwin.reach build`` (or ``floodtwin reach build``) writes
data/dikes/<reach>.gpkg (EPSG:4547) and data/dikes/<reach>_dem_<res>m.nc. The output is
deterministic for a given YAML: every position follows from the chainage/offset frame of
:mod:`floodtwin.terrain`, every count from the inventory parameters.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from floodtwin.errors import DataError, InputError
from floodtwin.reach.load import dem_filename
from floodtwin.reach.params import ReachParams, load_params
from floodtwin.reach.terrain import ReachTerrain, build_dem, write_dem

__all__ = ["KIND_ZH", "ROLE_ZH", "WORKS_KIND_ZH", "post_chainage_m", "post_label", "build_centerline", "build_channel", "build_dikes",
           "build_works_and_spurs", "build_stones", "town_depth_m", "build_grids", "build_staff", "build_units", "build_cameras", "build_villages",
           "build_points", "build_gauge_rating", "build_layers", "build_reach", "build_targets", "refuse_to_replace"]

log = logging.getLogger(__name__)

KIND_ZH = {"spur": "坝", "short_spur": "垛", "revetment": "护岸"}
ROLE_ZH = {"grid_leader": "网格长", "micro_grid_leader": "社区微网格长", "grid_member": "网格员",
           "team_member": "专业队员", "unit_leader": "带班负责人", "unit_member": "值班人员"}
WORKS_KIND_ZH = {"dike_works": "险工", "control_works": "控导"}


def post_label(chainage_m: float) -> str:
    """Chainage post label: 6663 m -> '6+663'."""
    km, m = divmod(int(round(chainage_m)), 1000)
    return f"{km}+{m:03d}"


_POST = re.compile(r"^\s*(\d+)\s*\+\s*(\d{1,3}(?:\.\d+)?)\s*$")


def post_chainage_m(text: str) -> float | None:
    """Chainage (m) of a post label such as ``"7+350"`` (km + m: 7350 m); None when ``text`` is not one."""
    m = _POST.match(str(text))
    return int(m.group(1)) * 1000.0 + float(m.group(2)) if m else None


def _polygon_sn(terrain: ReachTerrain, s0: float, s1: float, n_lo, n_hi, step_m: float = 50.0):
    """Polygon in map coordinates of the (s, n) region s0..s1 between the offset functions n_lo, n_hi."""
    from shapely.geometry import Polygon

    # vertices on a common chainage lattice, so neighbouring polygons share their edges exactly
    s = np.unique(np.concatenate([[s0], np.arange(np.ceil(s0 / step_m) * step_m, s1, step_m), [s1]]))
    lo = np.broadcast_to(n_lo(s) if callable(n_lo) else n_lo, s.shape)
    hi = np.broadcast_to(n_hi(s) if callable(n_hi) else n_hi, s.shape)
    ss = np.concatenate([s, s[::-1]])
    nn = np.concatenate([lo, hi[::-1]])
    x, y = terrain.frame.to_xy(ss, nn)
    return Polygon(np.column_stack([x, y]))


def _line_sn(terrain: ReachTerrain, s, n):
    from shapely.geometry import LineString

    x, y = terrain.frame.to_xy(np.asarray(s, float), np.asarray(n, float))
    return LineString(np.column_stack([x, y]))


def _point_sn(terrain: ReachTerrain, s: float, n: float):
    from shapely.geometry import Point

    x, y = terrain.frame.to_xy(s, n)
    return Point(float(x), float(y))


# --------------------------------------------------------------------------------------------
def build_centerline(t: ReachTerrain):
    s = np.arange(0, t.length_m + 1, 50.0)
    return [{"name": "河道中心线 reach axis (between the dikes)", "length_m": t.length_m,
             "geometry": _line_sn(t, s, t.spacing_m(s) / 2)}]


def build_channel(t: ReachTerrain):
    s0, s1 = 0.0, t.length_m
    return [{"name": "主槽 main channel (bank-top lines)",
             "width_m": t.channel_width_m,
             "geometry": _polygon_sn(t, s0, s1, lambda s: t.channel_edges_m(s)[0], lambda s: t.channel_edges_m(s)[1])}]


def build_dikes(t: ReachTerrain, p: ReachParams):
    """Dike segments between chainage posts, both banks, with crest and design level at mid-segment."""
    step = float(p.dikes.post_spacing_m.value)
    rows = []
    edges = np.unique(np.concatenate([np.arange(0.0, t.length_m, step), [t.length_m]]))
    for side, name_zh in (("right", "右岸（南岸）大堤"), ("left", "左岸（北岸）大堤")):
        for a, b in zip(edges[:-1], edges[1:]):
            s = np.linspace(a, b, 21)
            n = np.zeros_like(s) if side == "right" else t.spacing_m(s)
            mid = (a + b) / 2
            n_mid = 0.0 if side == "right" else float(t.spacing_m(mid))
            rows.append({
                "segment_id": f"{side[0].upper()}-{int(a // 1000):03d}",
                "dike_id": side, "bank": side, "name_zh": name_zh,
                "chainage_from_m": float(a), "chainage_to_m": float(b),
                "post_from": post_label(a), "post_to": post_label(b),
                "crest_elevation_m": round(float(t.crest_m(mid)), 3),
                "design_flood_level_m": round(float(t.design_level_m(mid)), 3),
                "toe_elevation_m": round(float(t.ground_without_dikes_m(mid, n_mid)), 3),
                "land_elevation_m": round(float(t.land_m(mid)), 3),
                "geometry": _line_sn(t, s, n),
            })
    return rows


def _structure_kinds(counts: list[int]) -> list[str]:
    """Interleave spurs, short spurs and revetments evenly along a works (largest-remainder order)."""
    kinds = ["spur", "short_spur", "revetment"]
    total = sum(counts)
    placed = [0, 0, 0]
    out = []
    for k in range(total):
        # pick the kind furthest behind its even share
        deficits = [(counts[i] * (k + 1) / total - placed[i], -i) for i in range(3) if placed[i] < counts[i]]
        i = -max(deficits)[1]
        placed[i] += 1
        out.append(kinds[i])
    return out


def _named_are_spurs(kinds: list[str], numbers: list[int]) -> list[str]:
    """Named structures (General's Dam No. 90, the East Dam, Madu No. 27) are spurs (坝): swap each with
    the nearest spur that is not named, keeping the counts of every kind."""
    kinds = list(kinds)
    for number in numbers:
        i = number - 1
        if not 0 <= i < len(kinds):
            raise DataError(f"named structure No. {number} is beyond the works' {len(kinds)} structures")
        if kinds[i] == "spur":
            continue
        candidates = [j for j, k in enumerate(kinds) if k == "spur" and (j + 1) not in numbers]
        if not candidates:
            raise DataError(f"named structure No. {number}: no spur left to swap with")
        j = min(candidates, key=lambda j: abs(j - i))
        kinds[i], kinds[j] = kinds[j], kinds[i]
    return kinds


def build_works_and_spurs(t: ReachTerrain, p: ReachParams):
    works_rows, spur_rows = [], []
    for w in p.works:
        s0, s1 = float(w.chainage_from_m.value), float(w.chainage_to_m.value)
        counts = [int(c) for c in w.structures.value]
        kinds = _structure_kinds(counts)
        crest_lo, crest_hi = (float(v) for v in w.crest_m.value)
        root_lo, root_hi = (float(v) for v in w.root_depth_m.value)
        len_lo, len_hi = (float(v) for v in w.spur_length_m.value)
        named = {int(a): (b, c) for a, b, c in (w.named_structures.value if w.named_structures else [])}
        kinds = _named_are_spurs(kinds, sorted(named))
        n_total = len(kinds)
        # structures start at the river-side toe of the dike (works on a dike) or the channel edge (控导)
        base = lambda s: (t.dike_toe_offset_m(s) if w.kind == "dike_works" else t.channel_edges_m(s)[0] - 60.0)
        max_len = 0.0
        for k, kind in enumerate(kinds):
            number = k + 1
            frac = (k + 0.5) / n_total
            s = s0 + frac * (s1 - s0)
            golden = (number * 0.6180339887) % 1.0  # deterministic spread of sizes along the works
            n0 = float(base(s))
            if kind == "revetment":
                geom = _line_sn(t, [s - 20.0, s + 20.0], [n0, n0])
                length = 40.0
            else:
                length = len_lo + (len_hi - len_lo) * golden
                if kind == "short_spur":
                    length /= 3.0
                # spurs point downstream at about 30 degrees from the normal, as on the Yellow River
                ds = length * np.sin(np.radians(30.0))
                dn = length * np.cos(np.radians(30.0))
                geom = _line_sn(t, [s, s + ds], [n0, n0 + dn])
                max_len = max(max_len, dn)
            name_zh, name_en = named.get(number, ("", ""))
            spur_rows.append({
                "spur_id": f"{w.id}-{number:03d}", "works_id": w.id, "number": number, "kind": kind,
                "kind_zh": KIND_ZH[kind], "name_zh": name_zh or f"{w.name_zh}{number}号{KIND_ZH[kind]}",
                "name_en": name_en or f"{w.name_en} {kind.replace('_', ' ')} No. {number}",
                "chainage_m": round(s, 1), "post": post_label(s),
                "crest_elevation_m": round(crest_hi - (crest_hi - crest_lo) * frac, 2),
                "root_depth_m": round(root_lo + (root_hi - root_lo) * golden, 1),
                "length_m": round(length, 1), "geometry": geom,
            })
        # the works footprint: from the land-side toe of the dike to beyond the spur heads
        lo = (lambda s: t.dike_toe_offset_m(s, toward="land")) if w.kind == "dike_works" else (lambda s: base(s) - 20.0)
        hi = lambda s, b=base, m=max_len: b(s) + m + 20.0
        works_rows.append({
            "works_id": w.id, "name_zh": w.name_zh, "name_en": w.name_en, "kind": w.kind,
            "kind_zh": WORKS_KIND_ZH[w.kind], "bank": w.bank,
            "chainage_from_m": s0, "chainage_to_m": s1, "post_from": post_label(s0), "post_to": post_label(s1),
            "length_m": s1 - s0, "n_structures": n_total, "n_spurs": counts[0], "n_short_spurs": counts[1],
            "n_revetments": counts[2], "crest_min_m": crest_lo, "crest_max_m": crest_hi,
            "root_depth_min_m": root_lo, "root_depth_max_m": root_hi, "n_stones": int(w.stones.value),
            "geometry": _polygon_sn(t, s0 - 25.0, s1 + 25.0 + max_len * 0.6, lo, hi, step_m=25.0),
        })
    return works_rows, spur_rows


def build_stones(t: ReachTerrain, p: ReachParams, spur_rows: list[dict]):
    """Smart stones on the spurs (坝 first, then 垛) of each works, near the spur heads."""
    from shapely.geometry import Point

    rows = []
    lo_frac, hi_frac = (float(v) for v in p.stones.install_depth_fraction.value)
    interval = float(p.stones.report_interval_min.value)
    k = 0
    for w in p.works:
        spurs = [r for r in spur_rows if r["works_id"] == w.id and r["kind"] != "revetment"]
        spurs.sort(key=lambda r: (r["kind"] != "spur", r["number"]))
        if not spurs:
            raise DataError(f"works {w.id}: has stones but no spurs to carry them")
        n_stones = int(w.stones.value)
        per_spur = [n_stones // len(spurs) + (1 if i < n_stones % len(spurs) else 0) for i in range(len(spurs))]
        for spur, count in zip(spurs, per_spur):
            line = spur["geometry"]
            for j in range(count):
                k += 1
                # along the head of the spur: the root stones at the nose take the attack of the flow
                frac = 1.0 - 0.15 * (j + 0.5) / max(count, 1)
                pt = line.interpolate(frac, normalized=True)
                golden = (k * 0.6180339887) % 1.0
                rows.append({
                    "stone_id": f"ST{k:03d}", "works_id": w.id, "spur_id": spur["spur_id"],
                    "spur_number": spur["number"],
                    "install_depth_m": round(spur["root_depth_m"] * (lo_frac + (hi_frac - lo_frac) * golden), 1),
                    "baseline_roll_deg": round(-3.0 + 6.0 * ((k * 0.7548776662) % 1.0), 2),
                    "baseline_pitch_deg": round(-3.0 + 6.0 * ((k * 0.5698402910) % 1.0), 2),
                    "report_interval_min": interval,
                    "geometry": Point(pt.x, pt.y),
                })
    return rows


def town_depth_m(t: ReachTerrain, p: ReachParams) -> float:
    """Depth of the town behind the right dike (m) such that its area matches the published area."""
    s0 = float(p.reach.town_start_m.value)
    s1 = s0 + float(p.reach.town_length_m.value)
    s = np.linspace(s0, s1, 2001)
    riverside = np.trapezoid(t.channel_edges_m(s)[0], s)  # the town's floodplain up to the main channel
    target = float(p.reach.town_area_km2.value) * 1e6
    depth = (target - riverside) / (s1 - s0)
    if depth <= 0:
        raise DataError("reach.town_area_km2 is smaller than the town's floodplain between dike and channel")
    return float(depth)


def build_grids(t: ReachTerrain, p: ReachParams):
    """68 grids tiling the town (slices along the dike x bands across) and 4 exclusive grids over them."""
    s0 = float(p.reach.town_start_m.value)
    s1 = s0 + float(p.reach.town_length_m.value)
    depth = town_depth_m(t, p)
    n_grids = int(p.grids.count.value)
    n_rows = int(p.grids.rows.value)
    n_cols = n_grids // n_rows
    s_edges = np.linspace(s0, s1, n_cols + 1)
    riverside = lambda s: t.channel_edges_m(s)[0]
    # band 0 takes the floodplain, the dike and the first quarter behind it; the rest in equal thirds
    bands = [-depth / 4] + list(np.linspace(-depth / 4, -depth, n_rows)[1:])
    n_edges = [riverside] + bands  # from the river outward
    community_cols = set(range(n_cols // 2 - 3, n_cols // 2 + 4))
    n_comm = int(p.grids.community_count.value)
    rows = []
    gid = 0
    for c in range(n_cols):
        for r in range(n_rows):
            gid += 1
            hi, lo = n_edges[r], n_edges[r + 1]
            poly = _polygon_sn(t, s_edges[c], s_edges[c + 1], lo, hi)
            community = r in (1, 2) and c in community_cols
            rows.append({"grid_id": f"G{gid:02d}", "name_zh": f"花园口镇第{gid:02d}网格",
                         "name_en": f"Huayuankou town grid {gid:02d}", "level": "grid",
                         "kind": "community" if community else "rural", "parent": "HYK-TOWN", "covers": "",
                         "column": c, "row": r, "geometry": poly})
    if sum(r["kind"] == "community" for r in rows) != n_comm:
        raise DataError(f"grids.community_count: the town layout gives "
                        f"{sum(r['kind'] == 'community' for r in rows)} community grids, not {n_comm}")
    for gid_x, covers, name_zh, name_en, a, b, lo, hi in p.grids.exclusive.value:
        poly = _polygon_sn(t, float(a), float(b), float(lo), float(hi), step_m=25.0)
        c = poly.representative_point()
        parent = next((r["grid_id"] for r in rows if r["geometry"].contains(c)), "")
        rows.append({"grid_id": gid_x, "name_zh": name_zh, "name_en": name_en, "level": "exclusive",
                     "kind": "exclusive", "parent": parent, "covers": covers, "column": -1, "row": -1,
                     "geometry": poly})
    for r in rows:
        r["area_km2"] = round(r["geometry"].area / 1e6, 4)
    return rows, depth


def build_staff(p: ReachParams, grid_rows: list[dict]):
    """294 staff by id and role: a leader per grid, micro-grid leaders, rural members, works teams."""
    from shapely.geometry import Point

    shifts = list(p.staff.shifts.value)
    off_every = int(p.staff.off_duty_every.value)
    regular = [g for g in grid_rows if g["level"] == "grid"]
    exclusive = [g for g in grid_rows if g["level"] == "exclusive"]
    rural = [g for g in regular if g["kind"] == "rural"]
    community = [g for g in regular if g["kind"] == "community"]
    n_micro = int(p.staff.micro_grid_leaders.value)
    n_members = int(p.staff.rural_grid_members.value)
    assignments: list[tuple[str, dict]] = []
    for g in regular + exclusive:
        assignments.append(("grid_leader", g))
    for i in range(n_micro):
        assignments.append(("micro_grid_leader", community[i % len(community)]))
    for i in range(n_members):
        assignments.append(("grid_member", rural[i % len(rural)]))
    for g, count in zip(exclusive, p.staff.team_members_per_exclusive_grid.value):
        assignments.extend(("team_member", g) for _ in range(int(count)))
    rows = []
    per_grid: dict[str, int] = {}
    for k, (role, g) in enumerate(assignments, start=1):
        j = per_grid.get(g["grid_id"], 0)
        per_grid[g["grid_id"]] = j + 1
        c = g["geometry"].representative_point()
        # a small spiral around the grid's duty post so that people do not sit on one point on maps
        ang = j * 2.39996
        rad = 12.0 * np.sqrt(j)
        # shifts alternate within each grid, so every grid has people on duty at any hour; leaders
        # stay reachable (on duty) because the fallback chain (兜底) runs through them
        rows.append({"staff_id": f"S{k:03d}", "role": role, "role_zh": ROLE_ZH[role], "grid_id": g["grid_id"],
                     "shift": shifts[j % len(shifts)],
                     "on_duty": bool(role == "grid_leader" or k % off_every != 0),
                     "geometry": Point(c.x + rad * np.cos(ang), c.y + rad * np.sin(ang))})
    leaders = {r["grid_id"]: r["staff_id"] for r in rows if r["role"] == "grid_leader"}
    for g in grid_rows:
        g["leader_id"] = leaders[g["grid_id"]]
    return rows


def build_units(t: ReachTerrain, p: ReachParams) -> tuple[list[dict], list[dict]]:
    """The plan's units and their duty rosters: (units rows, unit_staff rows).

    Per roster row of ``units.rosters``, ``people per shift`` members on each duty shift, ids
    ``<prefix>-[<works>-]<shift><nn>`` (representative, no names); every ``staff.off_duty_every``-th
    member of a unit is off duty, as for the grid staff. Each unit has one leader ``<prefix>-L01``
    on no fixed shift (reachable at any hour, ``units.leader_on_duty``), at the unit's first base."""
    from shapely.geometry import Point

    shifts = list(p.staff.shifts.value)
    off_every = int(p.staff.off_duty_every.value)
    leader_on_duty = bool(p.units.leader_on_duty.value)
    units: dict[str, dict] = {}
    staff: list[dict] = []
    counter: dict[str, int] = {}
    for unit_id, name_zh, name_en, prefix, works, per_shift, s, n in p.units.rosters.value:
        base = _point_sn(t, float(s), float(n))
        if unit_id not in units:
            leader = f"{prefix}-L01"
            units[unit_id] = {"unit_id": unit_id, "name_zh": name_zh, "name_en": name_en, "leader_id": leader,
                              "parent": "HYK-TOWN", "geometry": base}
            staff.append({"staff_id": leader, "unit_id": unit_id, "role": "unit_leader",
                          "role_zh": ROLE_ZH["unit_leader"], "works_id": "", "shift": "",
                          "on_duty": leader_on_duty, "geometry": base})
        crew = f"{prefix}-{works}-" if works else f"{prefix}-"
        j = 0
        for shift in shifts:
            for k in range(1, int(per_shift) + 1):
                j += 1
                counter[unit_id] = counter.get(unit_id, 0) + 1
                ang, rad = j * 2.39996, 10.0 * np.sqrt(j)
                staff.append({"staff_id": f"{crew}{shift}{k:02d}", "unit_id": unit_id, "role": "unit_member",
                              "role_zh": ROLE_ZH["unit_member"], "works_id": works or "", "shift": shift,
                              "on_duty": counter[unit_id] % off_every != 0,
                              "geometry": Point(base.x + rad * np.cos(ang), base.y + rad * np.sin(ang))})
    return list(units.values()), staff


#: what a camera watches (its kind in the cameras table)
CAMERA_KINDS = ("works", "dike_road", "floodplain", "dike_toe", "scenic", "gauge")


def build_cameras(t: ReachTerrain, p: ReachParams, grid_rows: list[dict]) -> list[dict]:
    """The camera layer: id, names, kind, chainage and distance from the right dike, the grid it lies
    in (an exclusive grid wins), whether it stands on the floodplain (river side of the dike toe), its
    view radius (m)."""
    rows = []
    for cid, name_zh, name_en, kind, s, n, view in p.cameras.value:
        if kind not in CAMERA_KINDS:
            raise DataError(f"cameras: {cid}: kind {kind!r} is not one of {', '.join(CAMERA_KINDS)}")
        pt = _point_sn(t, float(s), float(n))
        exclusive = next((g["grid_id"] for g in grid_rows if g["level"] == "exclusive" and g["geometry"].covers(pt)),
                         "")
        on_floodplain = float(n) > float(t.dike_toe_offset_m(float(s)))
        rows.append({"camera_id": cid, "name_zh": name_zh, "name_en": name_en, "kind": kind,
                     "chainage_m": float(s), "offset_m": float(n), "dike_id": "right",
                     "grid_id": exclusive or _grid_of(pt, grid_rows), "floodplain": bool(on_floodplain),
                     "view_m": float(view), "geometry": pt})
    return rows


def _grid_of(point, grid_rows: list[dict]) -> str:
    for g in grid_rows:
        if g["level"] == "grid" and g["geometry"].covers(point):
            return g["grid_id"]
    return ""


def build_villages(t: ReachTerrain, p: ReachParams, grid_rows: list[dict]):
    rows = []
    for vid, name_zh, name_en, s, n, pop, hh, special, crop, livestock, other, evac_n in p.villages.value:
        pt = _point_sn(t, float(s), float(n))
        right_edge = float(t.channel_edges_m(float(s))[0])
        toe = float(t.dike_toe_offset_m(float(s)))
        if not toe < float(n) < right_edge:
            raise DataError(f"villages: {vid} at chainage {s} m, {n} m from the dike is not on the floodplain "
                            f"(between {toe:.0f} and {right_edge:.0f} m)")
        if not float(evac_n) < float(t.dike_toe_offset_m(float(s), toward="land")):
            raise DataError(f"villages: {vid}: evacuation point {evac_n} m from the dike is not behind it")
        # each village evacuates straight across the dike, to a point on the land side
        evac = _point_sn(t, float(s), float(evac_n))
        rows.append({"village_id": vid, "name_zh": name_zh, "name_en": name_en,
                     "grid_id": _grid_of(pt, grid_rows), "chainage_m": float(s), "offset_m": float(n),
                     "ground_elevation_m": round(float(t.ground_without_dikes_m(float(s), float(n))), 2),
                     "population": int(pop), "households": int(hh), "special_attention": int(special),
                     "farmers_crop": int(crop), "farmers_livestock": int(livestock),
                     "farmers_other": int(other),
                     "evacuation_point": f"{name_zh}安置点（堤后）", "evac_x": round(evac.x, 1),
                     "evac_y": round(evac.y, 1), "geometry": pt})
    return rows


def build_points(t: ReachTerrain, p: ReachParams, grid_rows: list[dict], spur_rows: list[dict]):
    from shapely.geometry import Point

    depots = []
    for (did, name_zh, name_en, works, s, n, stone, gabions, sandbags, woven, jackets, buoys, lights,
         boats) in p.depots.value:
        pt = _point_sn(t, float(s), float(n))
        depots.append({"depot_id": did, "name_zh": name_zh, "name_en": name_en, "works_id": works or "",
                       "grid_id": _grid_of(pt, grid_rows), "chainage_m": float(s), "stone_m3": float(stone),
                       "gabions": int(gabions), "sandbags": int(sandbags), "woven_bags": int(woven),
                       "life_jackets": int(jackets), "lifebuoys": int(buoys), "lights": int(lights),
                       "boats": int(boats), "geometry": pt})
    gauges = []
    for gid, name_zh, name_en, stcd, s, n, river, kind in p.gauges.value:
        pt = _point_sn(t, float(s), float(n))
        gauges.append({"gauge_id": gid, "name_zh": name_zh, "name_en": name_en, "stcd": str(stcd),
                       "chainage_m": float(s), "river": river, "kind": kind,
                       "grid_id": _grid_of(pt, grid_rows), "geometry": pt})
    keys = []
    spurs = {(r["works_id"], r["number"]): r for r in spur_rows}
    for pid, name_zh, name_en, kind, works, s, n, spur_number in p.key_points.value:
        if spur_number != "":
            spur = spurs.get((works, int(spur_number)))
            if spur is None:
                raise DataError(f"key_points: {pid}: works {works!r} has no structure No. {spur_number}")
            if spur["kind"] == "revetment":
                raise DataError(f"key_points: {pid}: structure No. {spur_number} of {works} is a revetment, "
                                f"not a spur with a head")
            head = spur["geometry"].coords[-1]
            pt, s, spur_id = Point(head), spur["chainage_m"], spur["spur_id"]
        elif kind == "works_head":
            raise DataError(f"key_points: {pid}: a works head needs the number of its spur")
        else:
            pt, spur_id = _point_sn(t, float(s), float(n)), ""
        keys.append({"point_id": pid, "name_zh": name_zh, "name_en": name_en, "kind": kind,
                     "works_id": works or "", "spur_id": spur_id, "grid_id": _grid_of(pt, grid_rows),
                     "chainage_m": float(s), "geometry": pt})
    return depots, gauges, keys


def build_gauge_rating(t: ReachTerrain, p: ReachParams):
    """Uniform-flow rating of the compound section at the gauge, tabulated for instant lookup.

    Rows from 100 m³/s to 1.5 x the design discharge, log-spaced: the fallback water level of the
    preplan and the duty officer's first answer need it in microseconds, without the terrain model.
    """
    import pandas as pd

    q = np.unique(np.round(np.geomspace(100.0, 1.5 * t.design_discharge_m3s, 160), 1))
    stage = [t.normal_stage_m(t.gauge_chainage_m, float(v)) for v in q]
    # at the levee lip the stage stays put while the floodplain takes the extra flow: keep the root
    # finder's tolerance from turning that flat stretch into a (spurious) dip
    stage = np.maximum.accumulate(stage)
    return pd.DataFrame({"gauge_id": p.gauges.value[0][0], "discharge_m3s": q, "stage_m": np.round(stage, 4),
                         "bed_slope": t.slope, "gauge_chainage_m": t.gauge_chainage_m})


def build_layers(params: ReachParams, terrain: ReachTerrain | None = None) -> dict:
    """All layers of the reach as GeoDataFrames in the reach CRS (ordered as written to the GeoPackage)."""
    import geopandas as gpd

    t = terrain if terrain is not None else ReachTerrain(params)
    p = params
    works, spurs = build_works_and_spurs(t, p)
    grids, _depth = build_grids(t, p)
    staff = build_staff(p, grids)
    units, unit_staff = build_units(t, p)
    for g in grids:
        g.pop("column")
        g.pop("row")
    depots, gauges, keys = build_points(t, p, grids, spurs)
    raw = {
        "centerline": build_centerline(t), "channel": build_channel(t), "dikes": build_dikes(t, p),
        "works": works, "spurs": spurs, "grids": grids, "staff": staff, "units": units, "unit_staff": unit_staff,
        "stones": build_stones(t, p, spurs), "villages": build_villages(t, p, grids),
        "depots": depots, "gauges": gauges, "key_points": keys, "cameras": build_cameras(t, p, grids),
    }
    out = {}
    for name, rows in raw.items():
        gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=p.crs)
        out[name] = gdf[[c for c in gdf.columns if c != "geometry"] + ["geometry"]]  # as a GeoPackage orders them
    return out


def build_reach(yaml_path: str | Path, out_dir: str | Path | None = None, *,
                resolutions_m: tuple[float, ...] = (50.0,)) -> dict[str, Path]:
    """Build ``<name>.gpkg`` and ``<name>_dem_<res>m.nc`` next to the YAML (or in ``out_dir``)."""
    bad = [r for r in resolutions_m if not r > 0]
    if bad:
        raise InputError(f"DEM resolution {bad[0]} m must be positive")
    yaml_path = Path(yaml_path)
    params = load_params(yaml_path)
    out_dir = Path(out_dir) if out_dir is not None else yaml_path.parent
    terrain = ReachTerrain(params)
    layers = build_layers(params, terrain)
    gpkg = out_dir / f"{params.name}.gpkg"
    tmp = gpkg.with_name(f".{gpkg.stem}.tmp.gpkg")
    import pyogrio

    written = {"gpkg": gpkg}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        pyogrio.write_dataframe(build_gauge_rating(terrain, params), tmp, layer="gauge_rating")  # attribute table
        tmp.replace(gpkg)
        for res in resolutions_m:
            nc = out_dir / dem_filename(params.name, res)
            write_dem(build_dem(terrain, res), nc)
            written[f"dem_{res:g}m"] = nc
    except OSError as exc:
        raise DataError(f"{out_dir}: cannot write the reach files ({exc.strerror or exc})") from None
    log.info("built %s", ", ".join(str(v) for v in written.values()))
    return written


def build_targets(yaml_path: Path, resolutions_m) -> list[Path]:
    """The files a build beside ``yaml_path`` writes: ``<name>.gpkg`` and one DEM per resolution (m)."""
    name = load_params(yaml_path).name
    folder = Path(yaml_path).parent
    return [folder / f"{name}.gpkg", *(folder / dem_filename(name, float(r)) for r in resolutions_m)]


def refuse_to_replace(targets: list[Path]) -> None:
    """InputError (one line, exit 2) when a build beside the YAML would replace files already there (for the
    default YAML: the committed reach data): write elsewhere, or say ``--in-place``. The command line and
    ``python -m floodtwin.reach`` both ask it before building."""
    existing = [p for p in targets if p.exists()]
    if existing:
        names = ", ".join(_shown(p) for p in existing)
        raise InputError(f"reach build would replace {names}: write elsewhere with --out FOLDER, "
                         f"or pass --in-place to replace {'it' if len(existing) == 1 else 'them'}")


def _shown(path: Path) -> str:
    """A path as the user typed it: relative to the working folder where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
