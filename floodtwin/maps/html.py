"""The result map as an offline HTML page (``floodtwin.maps.html``): Leaflet through folium, with the
depth and hazard rasters as image overlays on a hillshade base, the vector layers as GeoJSON, a layer
control to toggle each, and pop-ups that answer the duty officer's questions (who lives there, how deep,
when, where do they go; which tasks in a grid and who holds them; how much freeboard; how fast at the
spur heads). No tile server, no CDN: Leaflet ships in ``static/`` and is inlined (offline.py).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

import numpy as np

from floodtwin.errors import InputError
from floodtwin.maps.inputs import check_flood, check_layers, check_title
from floodtwin.maps.offline import leaflet_inline, require_offline, strip_cdn
from floodtwin.maps.raster import depth_rgba, grey_hillshade, hazard_rgba, png_data_uri, warp_to_mercator
from floodtwin.maps.style import DEPTH_BOUNDS_M, DEPTH_COLOURS, FREEBOARD, HAZARD, village_colour

log = logging.getLogger(__name__)

__all__ = ["BREACH_LAYER_NAME", "LAYER_NAMES", "render_html"]

#: the layers of the layer control, in its order (hillshade is the base layer)
LAYER_NAMES = {
    "hillshade": "地形 hillshade",
    "depth": "最大水深 max depth",
    "hazard": "危险等级 hazard (FD2320)",
    "channel": "主槽 main channel",
    "grids": "网格 grids",
    "dikes": "大堤 dikes: freeboard",
    "works": "险工/控导 works",
    "stones": "智能石头 smart stones",
    "depots": "物资料场 depots",
    "evacuation": "安置点 evacuation points",
    "villages": "村庄 villages",
}
#: a run's breaches, a layer of the control only when the run has any
BREACH_LAYER_NAME = "决口 dike breaches"
FREEBOARD_COLOUR = {c.key: c.colour for c in FREEBOARD}
#: raster overlays are warped at twice the model grid's width, so the nearest-neighbour warp keeps cell edges
WARP_FACTOR = 2


def render_html(flood, layers, reach, *, title: str, path: str | Path) -> Path:
    """Write the result map of one run as one self-contained HTML file at ``path`` (no network needed to
    open it) and return the path. ``flood`` and ``layers`` as for :func:`floodtwin.maps.render_png`.
    Bad arguments or an unwritable path -> InputError."""
    import folium

    check_title(title)
    check_flood(flood, reach.dem)
    check_layers(layers, reach.crs)
    path = Path(path)

    dem = reach.dem
    x, y = dem.x.values, dem.y.values
    width = WARP_FACTOR * x.size
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)
    m.get_root().title = title

    def overlay(rgba, name, *, show=True, base=False, opacity=1.0):
        image, bounds = warp_to_mercator(rgba, x, y, reach.crs, width_px=width)
        group = folium.FeatureGroup(name=name, overlay=not base, show=show)
        folium.raster_layers.ImageOverlay(png_data_uri(image), bounds=[list(b) for b in bounds], opacity=opacity,
                                          interactive=False, zindex=1).add_to(group)
        group.add_to(m)
        return bounds

    bounds = overlay(grey_hillshade(reach), LAYER_NAMES["hillshade"], base=True)
    overlay(depth_rgba(flood.max_depth.values), LAYER_NAMES["depth"])
    overlay(hazard_rgba(flood.hazard_class.values, flood.max_depth.values), LAYER_NAMES["hazard"], show=False)
    _vectors(m, layers, reach)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.fit_bounds([list(b) for b in bounds])
    root = m.get_root()
    root.header.add_child(folium.Element(leaflet_inline()), name="leaflet_inline", index=0)
    root.html.add_child(folium.Element(_legend_html(title)))
    strip_cdn(m)
    html = require_offline(root.render())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the map ({exc.strerror or exc})") from None
    return path


# --------------------------------------------------------------------------------------------
# vector layers
# --------------------------------------------------------------------------------------------
def _geojson(gdf, name: str, *, style, marker=None, show: bool = True):
    """A GeoJSON layer of ``gdf`` (columns ``label``, ``popup``, ``colour``) in WGS84, with hover label and pop-up."""
    import folium

    data = gdf[["label", "popup", "colour", "geometry"]].to_crs("EPSG:4326")
    return folium.GeoJson(data, name=name, show=show, style_function=style, marker=marker,
                          tooltip=folium.GeoJsonTooltip(["label"], labels=False),
                          popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=420),
                          highlight_function=lambda f: {"weight": 4})


def _vectors(m, layers, reach) -> None:
    import folium
    import geopandas as gpd

    channel = reach.channel.copy()
    channel["label"] = bilingual_name("黄河主槽", "Yellow River main channel")
    channel["popup"] = channel["label"]
    channel["colour"] = "#5b9bd5"
    _geojson(channel, LAYER_NAMES["channel"], style=lambda f: {"color": "#1f4e79", "weight": 1, "fillColor": "#8fb8de",
                                                              "fillOpacity": 0.9}).add_to(m)

    grids = layers["grids"].copy()
    level = dict(zip(reach.grids.grid_id, reach.grids.level))
    grids["label"] = [f"{r.grid_id} {r.name_zh} · {int(r.task_count)} tasks" for r in grids.itertuples()]
    grids["popup"] = [grid_popup(r) for r in grids.itertuples()]
    grids["colour"] = ["#6a1b9a" if level.get(g) == "exclusive" else "#37474f" for g in grids.grid_id]
    _geojson(grids, LAYER_NAMES["grids"], style=lambda f: {
        "color": f["properties"]["colour"], "weight": 1, "fillOpacity": 0.0, "opacity": 0.8}).add_to(m)

    dikes = layers["dikes"].copy()
    dikes["label"] = [f"{r.segment_id} {r.post_from}–{r.post_to}: freeboard {_m(r.freeboard_m)}" for r in dikes.itertuples()]
    dikes["popup"] = [dike_popup(r) for r in dikes.itertuples()]
    dikes["colour"] = [FREEBOARD_COLOUR[c] for c in dikes.freeboard_class]
    _geojson(dikes, LAYER_NAMES["dikes"], style=lambda f: {"color": f["properties"]["colour"], "weight": 5,
                                                          "opacity": 1.0}).add_to(m)

    works = layers["works"].copy()
    works["label"] = [f"{r.name_zh} {r.name_en}: max {r.max_speed_ms:.1f} m/s" for r in works.itertuples()]
    works["popup"] = [works_popup(r, reach) for r in works.itertuples()]
    works["colour"] = ["#d50000" if bool(a) else "#5d4037" for a in works.attack]
    _geojson(works, LAYER_NAMES["works"], style=lambda f: {"color": f["properties"]["colour"], "weight": 2,
                                                          "fillOpacity": 0.25}).add_to(m)

    def points(radius, *, weight=1.5, line="#212121"):
        return folium.CircleMarker(radius=radius, weight=weight, color=line, fill=True, fill_opacity=1.0)

    def fill(f):
        return {"fillColor": f["properties"]["colour"]}

    stones = reach.stones.copy()
    stones["label"] = [f"{r.stone_id} · {r.works_id} spur {r.spur_number}" for r in stones.itertuples()]
    stones["popup"] = [f"<b>{escape(r.stone_id)}</b><br>works {escape(r.works_id)}, spur {r.spur_number}<br>"
                       f"installed at {r.install_depth_m:.1f} m depth" for r in stones.itertuples()]
    stones["colour"] = "#212121"
    _geojson(stones, LAYER_NAMES["stones"], style=fill, marker=points(2.5, weight=0)).add_to(m)

    depots = reach.depots.copy()
    depots["label"] = [f"{r.depot_id} {r.name_zh} {r.name_en}" for r in depots.itertuples()]
    depots["popup"] = [depot_popup(r) for r in depots.itertuples()]
    depots["colour"] = "#3949ab"
    _geojson(depots, LAYER_NAMES["depots"], style=fill, marker=points(6, line="white")).add_to(m)

    villages = layers["villages"]
    evac = gpd.GeoDataFrame(
        {"label": [f"{e} ← {r.name_zh}" for e, r in zip(villages.evacuation_point, villages.itertuples())],
         "popup": [f"<b>{escape(r.evacuation_point)}</b><br>evacuation point of {escape(r.name_zh)} "
                   f"{escape(r.name_en)}<br>{int(r.population):,} people" for r in villages.itertuples()],
         "colour": "#00897b"},
        geometry=gpd.points_from_xy(villages.evac_x, villages.evac_y), crs=villages.crs)
    _geojson(evac, LAYER_NAMES["evacuation"], style=fill, marker=points(6, line="white")).add_to(m)

    breaches = layers.get("breaches")
    if breaches is not None and len(breaches):
        b = breaches.copy()
        b["label"] = [f"决口 breach {r.breach_id} {r.post} {r.bank} bank" for r in b.itertuples()]
        b["popup"] = [f"<b>决口 breach {escape(r.breach_id)}</b><br>{escape(r.post)} on the {escape(r.bank)} dike "
                      f"({escape(r.segment_id)})<br>opens at {r.start_h:g} h, {r.final_width_m:g} m wide after "
                      f"{r.time_to_full_h:g} h" for r in b.itertuples()]
        b["colour"] = "#000000"
        _geojson(b, BREACH_LAYER_NAME, style=fill, marker=points(9, weight=3, line="white")).add_to(m)

    v = villages.copy()
    v["label"] = [f"{r.name_zh} {r.name_en}: {r.hazard_class}" for r in v.itertuples()]
    v["popup"] = [village_popup(r) for r in v.itertuples()]
    v["colour"] = [village_colour(h) for h in v.hazard_class]
    _geojson(v, LAYER_NAMES["villages"], style=fill, marker=points(9, weight=2.5)).add_to(m)


# --------------------------------------------------------------------------------------------
# pop-ups: small pure functions of one row, text escaped
# --------------------------------------------------------------------------------------------
def bilingual_name(zh: str, en: str) -> str:
    """A place name as the HTML map writes it: Chinese then English (a browser always has a CJK font)."""
    return f"{zh} {en}"


def _m(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.2f} m"


def _table(title: str, rows) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{escape(k)}</th><td>{v}</td></tr>"
                    for k, v in rows)
    return f"<b>{title}</b><table>{cells}</table>"


def village_popup(r) -> str:
    """People, farmers, water and the evacuation point of one village."""
    arrival = "dry" if not np.isfinite(r.arrival_time_s) else f"{r.arrival_time_s / 3600:.1f} h after the run start"
    return _table(f"{escape(r.name_zh)} {escape(r.name_en)} ({escape(r.village_id)}, grid {escape(r.grid_id)})", [
        ("people", f"{int(r.population):,}"), ("households", f"{int(r.households):,}"),
        ("special attention", f"{int(r.special_attention):,}"),
        ("farmers", f"crop {int(r.farmers_crop)} · livestock {int(r.farmers_livestock)} · other {int(r.farmers_other)}"),
        ("water arrives", arrival), ("max depth", _m(r.max_depth_m)), ("hazard", escape(str(r.hazard_class))),
        ("evacuation point", escape(str(r.evacuation_point)))])


def grid_popup(r) -> str:
    """A grid's tasks with their holders, its people and its flooded area."""
    lines = [escape(t) for t in str(r.task_lines).splitlines() if t.strip()]
    tasks = "<ol style='margin:0;padding-left:18px'>" + "".join(f"<li>{t}</li>" for t in lines) + "</ol>" \
        if lines else "none"
    return _table(f"{escape(r.grid_id)} {escape(r.name_zh)} {escape(r.name_en)}", [
        ("people to move", f"{int(r.people):,}"), ("flooded area", f"{r.flooded_area_km2:.2f} km²"),
        ("villages", escape(str(r.villages)) or "—"), (f"tasks ({int(r.task_count)})", tasks)])


def dike_popup(r) -> str:
    """Freeboard of one dike segment: crest, highest water, what is left."""
    label = next(c.en for c in FREEBOARD if c.key == r.freeboard_class)
    return _table(f"{escape(r.segment_id)} · {escape(r.bank)} bank {escape(r.post_from)}–{escape(r.post_to)}", [
        ("freeboard", f"{_m(r.freeboard_m)} ({escape(label)})" if np.isfinite(r.freeboard_m)
         else f"no water against it ({escape(label)})"), ("crest", _m(r.crest_elevation_m)),
        ("max water level", _m(r.max_water_level_m)), ("water at the toe", _m(r.toe_depth_m))])


def works_popup(r, reach) -> str:
    """Speed at the spur heads of one works and whether the main flow attacks it."""
    stones = int((reach.stones.works_id == r.works_id).sum())
    return _table(f"{escape(r.name_zh)} {escape(r.name_en)} ({escape(r.works_id)})", [
        ("max speed at the spur heads", f"{r.max_speed_ms:.2f} m/s"),
        ("main flow attack 大溜顶冲", "yes" if bool(r.attack) else "no"), ("smart stones", str(stones))])


def depot_popup(r) -> str:
    """What a materials depot holds."""
    return _table(f"{escape(r.depot_id)} {escape(r.name_zh)} {escape(r.name_en)}", [
        ("stone", f"{r.stone_m3:,.0f} m³"), ("gabions", f"{int(r.gabions):,}"), ("sandbags", f"{int(r.sandbags):,}"),
        ("life jackets", f"{int(r.life_jackets):,}"), ("boats", str(int(r.boats)))])


def _legend_html(title: str) -> str:
    """Title and legend boxes over the map (plain HTML and CSS: nothing to fetch)."""
    def swatch(colour, text, line=False):
        shape = "height:4px;margin-top:6px" if line else "height:12px"
        return (f"<div style='display:flex;gap:6px;align-items:flex-start'><span style='flex:none;width:18px;{shape};"
                f"background:{colour};border:1px solid #555'></span><span>{escape(text)}</span></div>")

    bounds = list(DEPTH_BOUNDS_M)
    depth = [swatch(c, f"{a:g}–{b:g} m" if b is not None else f"> {a:g} m")
             for c, a, b in zip(DEPTH_COLOURS, bounds, bounds[1:] + [None])]
    hazard = [swatch(c.colour, f"{c.zh} {c.en}") for c in HAZARD]
    dikes = [swatch(c.colour, f"{c.zh} {c.en}", line=True) for c in FREEBOARD]
    box = ("position:absolute;z-index:1000;background:rgba(255,255,255,0.93);padding:6px 9px;border-radius:4px;"
           "box-shadow:0 1px 4px rgba(0,0,0,0.4);font:12px/1.35 sans-serif")
    return (f"<div id='ft-title' style='{box};top:10px;left:50px;font-size:15px;font-weight:bold'>{escape(title)}</div>"
            f"<div id='ft-legend' style='{box};bottom:58px;left:10px;max-width:290px'>"
            f"<b>最大水深 max depth</b>{''.join(depth)}<b>危险等级 hazard (FD2320)</b>{''.join(hazard)}"
            f"<b>大堤超高 dike freeboard</b>{''.join(dikes)}</div>")
