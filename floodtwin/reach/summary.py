"""The reach inventory as plain data (what ``floodtwin reach info`` prints)."""

from __future__ import annotations

import numpy as np

from floodtwin.reach.load import Reach

__all__ = ["FALLBACK_STAGE_KEY", "reach_summary"]


#: the summary's row of the terrain's uniform-flow stage at the gauge (a fallback, labelled as one)
FALLBACK_STAGE_KEY = "HYK stage, terrain fallback (same flows)"

def _range(values) -> str:
    values = np.asarray(values, float)
    return f"{np.nanmin(values):.2f} – {np.nanmax(values):.2f} m"


def reach_summary(reach: Reach) -> dict:
    """Counts per layer, lengths, DEM size and elevation ranges of bed, floodplain, land and crests."""
    L = reach.layers
    grids = L["grids"]
    staff = L["staff"]
    works = L["works"]
    spurs = L["spurs"]
    villages = L["villages"]
    roles = staff["role"].value_counts().to_dict()
    layers = {
        "centerline": {"count": len(L["centerline"]), "detail": f"{L['centerline'].length.sum() / 1000:.2f} km"},
        "channel": {"count": len(L["channel"]), "detail": f"{L['channel'].area.sum() / 1e6:.1f} km²"},
        "dikes": {"count": len(L["dikes"]), "detail": ", ".join(
            f"{bank} {g.length.sum() / 1000:.1f} km" for bank, g in L["dikes"].groupby("bank"))},
        "works": {"count": len(works), "detail": ", ".join(
            f"{r.works_id} {r.name_zh} {int(r.n_structures)}" for r in works.itertuples())},
        "spurs": {"count": len(spurs), "detail": ", ".join(
            f"{k} {v}" for k, v in spurs["kind"].value_counts().sort_index().items())},
        "grids": {"count": len(grids), "detail": ", ".join(
            f"{k} {v}" for k, v in grids["level"].value_counts().sort_index().items())
            + f"; town {grids.loc[grids.level == 'grid'].area.sum() / 1e6:.2f} km²"},
        "staff": {"count": len(staff), "detail": ", ".join(f"{k} {v}" for k, v in sorted(roles.items()))},
        "stones": {"count": len(L["stones"]), "detail": ", ".join(
            f"{k} {v}" for k, v in L["stones"]["works_id"].value_counts().sort_index().items())},
        "villages": {"count": len(villages), "detail": f"population {int(villages.population.sum())}, "
                     f"special attention {int(villages.special_attention.sum())}"},
        "depots": {"count": len(L["depots"]), "detail": f"stone {L['depots'].stone_m3.sum():,.0f} m³, "
                   f"sandbags {int(L['depots'].sandbags.sum()):,}"},
        "gauges": {"count": len(L["gauges"]), "detail": ", ".join(
            f"{r.gauge_id} {r.name_zh} STCD {r.stcd}" for r in L["gauges"].itertuples())},
        "key_points": {"count": len(L["key_points"]), "detail": ""},
    }
    dem = reach.dem
    right_km = L["dikes"].loc[L["dikes"].bank == "right"].length.sum() / 1000
    geometry = {
        "reach length": f"{right_km:.2f} km along the right dike, {L['centerline'].length.sum() / 1000:.2f} km "
                        f"along the axis",
        **({"town reach": f"{reach.params.reach.town_length_m.value / 1000:.2f} km of dike from chainage "
                          f"{reach.params.reach.town_start_m.value / 1000:g} km, "
                          f"{reach.params.reach.town_area_km2.value:g} km²"} if reach.params is not None else {}),
        "DEM": f"{dem.sizes['x']} × {dem.sizes['y']} cells at {reach.resolution_m:g} m, "
               f"{int(np.isfinite(dem.values).sum()):,} in the domain",
        "DEM elevation": _range(dem.values),
        "dike crests": _range(L["dikes"]["crest_elevation_m"]),
        "design flood level (22,000 m³/s)": _range(L["dikes"]["design_flood_level_m"]),
        "floodplain at dike toe": _range(L["dikes"]["toe_elevation_m"]),
        "land behind the dikes": _range(L["dikes"]["land_elevation_m"]),
    }
    if reach.params is not None:
        t = reach.terrain
        s = np.linspace(0, t.length_m, 55)
        geometry["channel bed (thalweg)"] = _range(t.bed_m(s))
        geometry["floodplain at channel lip"] = _range(t.lip_m(s))
        geometry["channel fit to HYK rating"] = (f"bed {t.fit.bed_at_gauge_m:.2f} m, n = {t.fit.manning_n:.4f}, "
                                                 f"bankfull depth {t.fit.bankfull_depth_m:.2f} m, "
                                                 f"misfit {t.fit.rms_misfit_m:.2f} m rms")
        # the terrain's own uniform-flow stage: the fallback when no hydraulic run is at hand, labelled
        # as such (the calibrated 1D model's stage is the answer; `reach info` adds it beside this)
        geometry[FALLBACK_STAGE_KEY] = " / ".join(
            f"{reach.stage_at_gauge_m(q):.2f}" for q in (1000, 3000, 22000)) + " m"
    return {"name": reach.name, "name_zh": reach.params.name_zh if reach.params else "",
            "crs": f"EPSG:{reach.crs.to_epsg()}", "layers": layers, "geometry": geometry}
