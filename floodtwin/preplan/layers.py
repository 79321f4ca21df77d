"""What a template's scope can iterate over: the reach layers, their attributes and placeholders.

One table drives both the load-time checks of a preplan (unknown layer, unknown attribute, a
placeholder the scope cannot fill) and the expansion (which GeoPackage layer, which id column).
Attributes marked ``risk`` come from the risk facts (a hydraulic run) or, without them, from the
fallback rating rule; every task selected through them says which. The materials a template moves
are named by the one materials table, :data:`floodtwin.tasks.MATERIALS` (its ``depot_column`` is the
depots-layer column below that stocks the item).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BOOL", "COMMON_PLACEHOLDERS", "LAYERS", "NUM", "STR", "ScopeLayer"]

NUM, STR, BOOL = "number", "string", "boolean"


@dataclass(frozen=True)
class ScopeLayer:
    """A layer a template may iterate over (``scope.for_each``)."""

    name: str  # for_each value, e.g. "dike_segments"
    prefix: str  # filter/placeholder prefix, e.g. "dike_segment"
    gpkg_layer: str  # GeoPackage layer it is read from
    id_column: str
    attributes: dict[str, str]  # attribute -> NUM / STR / BOOL (columns and derived values)
    placeholders: tuple[str, ...]  # placeholders a title may use with this scope
    risk_attributes: tuple[str, ...] = field(default=())


#: placeholders every template may use, whatever its scope
COMMON_PLACEHOLDERS = ("tier", "tier_name", "colour", "discharge", "deadline")

LAYERS: dict[str, ScopeLayer] = {
    layer.name: layer
    for layer in (
        ScopeLayer(
            "grids", "grid", "grids", "grid_id",
            {"grid_id": STR, "level": STR, "kind": STR, "parent": STR, "covers": STR, "area_km2": NUM,
             "leader_id": STR, "n_staff": NUM, "n_on_duty": NUM, "on_dike": BOOL, "n_villages": NUM},
            ("grid", "grid_id", "leader_id", "n_staff", "n_on_duty"),
        ),
        ScopeLayer(
            "works", "works", "works", "works_id",
            {"works_id": STR, "kind": STR, "bank": STR, "chainage_from_m": NUM, "chainage_to_m": NUM,
             "n_structures": NUM, "n_spurs": NUM, "n_short_spurs": NUM, "n_revetments": NUM, "n_stones": NUM,
             "crest_min_m": NUM, "crest_max_m": NUM},
            ("works", "works_id", "chainage", "n_structures", "n_stones"),
        ),
        ScopeLayer(
            "spurs", "spur", "spurs", "spur_id",
            {"spur_id": STR, "works_id": STR, "number": NUM, "kind": STR, "chainage_m": NUM,
             "crest_elevation_m": NUM, "root_depth_m": NUM, "freeboard_m": NUM},
            ("spur", "spur_id", "works", "works_id", "chainage", "freeboard"),
            risk_attributes=("freeboard_m",),
        ),
        ScopeLayer(
            "villages", "village", "villages", "village_id",
            {"village_id": STR, "grid_id": STR, "chainage_m": NUM, "ground_elevation_m": NUM, "population": NUM,
             "households": NUM, "special_attention": NUM, "farmers_crop": NUM, "farmers_livestock": NUM,
             "farmers_other": NUM, "max_depth_m": NUM, "arrival_time_s": NUM},
            ("village", "village_id", "grid", "grid_id", "chainage", "population", "households",
             "special_attention", "evacuation_point", "depth", "arrival"),
            risk_attributes=("max_depth_m", "arrival_time_s"),
        ),
        ScopeLayer(
            "dike_segments", "dike_segment", "dikes", "segment_id",
            {"segment_id": STR, "dike_id": STR, "bank": STR, "chainage_from_m": NUM, "chainage_to_m": NUM,
             "mid_chainage_m": NUM, "crest_elevation_m": NUM, "design_flood_level_m": NUM,
             "toe_elevation_m": NUM, "land_elevation_m": NUM, "grid_id": STR, "in_town": BOOL,
             "freeboard_m": NUM, "toe_depth_m": NUM},
            ("segment", "segment_id", "chainage", "bank", "grid", "grid_id", "freeboard", "toe_depth"),
            risk_attributes=("freeboard_m", "toe_depth_m"),
        ),
        ScopeLayer(
            "depots", "depot", "depots", "depot_id",
            {"depot_id": STR, "works_id": STR, "grid_id": STR, "chainage_m": NUM, "stone_m3": NUM,
             "gabions": NUM, "sandbags": NUM, "woven_bags": NUM, "life_jackets": NUM, "lifebuoys": NUM,
             "lights": NUM, "boats": NUM},
            ("depot", "depot_id", "chainage", "stone_m3", "gabions", "sandbags", "life_jackets", "boats"),
        ),
        ScopeLayer(
            "key_points", "key_point", "key_points", "point_id",
            {"point_id": STR, "kind": STR, "works_id": STR, "grid_id": STR, "chainage_m": NUM},
            ("key_point", "point_id", "chainage"),
        ),
        ScopeLayer(
            "gauges", "gauge", "gauges", "gauge_id",
            {"gauge_id": STR, "stcd": STR, "chainage_m": NUM},
            ("gauge", "gauge_id", "stcd"),
        ),
    )
}
