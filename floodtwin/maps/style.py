"""The look of the result maps (``floodtwin.maps.style``): which cells count as wet, the depth bins, the
hazard classes and the freeboard classes with their names and colours. One place, so that the PNG and
the HTML map read the same and their legends agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from floodtwin.risk import FREEBOARD_CLASSES

__all__ = ["DEPTH_BOUNDS_M", "DEPTH_COLOURS", "DRY_DEPTH_M", "FREEBOARD", "HAZARD", "HAZARD_CODES", "LAYERS",
           "MapClass", "village_colour"]

#: a cell (or village) with a max depth at or below this (m) is dry on the map: puddles are noise
DRY_DEPTH_M = 0.05
#: the raster layers a map can show
LAYERS = ("depth", "hazard")


@dataclass(frozen=True)
class MapClass:
    """One class of a classified layer: its key, its names and its colour."""

    key: str
    zh: str
    en: str
    colour: str


#: UK Defra/EA FD2320 flood hazard classes by hazard rating HR, codes 1-4 of ``hazard_class``
#: (0 is dry); the conventional green, yellow, orange, red-to-dark scheme
HAZARD = (
    MapClass("low", "低", "low: caution (HR < 0.75)", "#43a047"),
    MapClass("moderate", "中", "moderate: danger for some (0.75–1.25)", "#fdd835"),
    MapClass("significant", "高", "significant: danger for most (1.25–2.0)", "#fb8c00"),
    MapClass("extreme", "极高", "extreme: danger for all (HR > 2.0)", "#7f0000"),
)
HAZARD_CODES = {"dry": 0, **{c.key: i + 1 for i, c in enumerate(HAZARD)}}

#: depth bins (m) of the depth layer: a duty officer reads bands (knee, waist, head, roof), not shades
DEPTH_BOUNDS_M = (DRY_DEPTH_M, 0.5, 1.0, 2.0, 3.0, 5.0)
#: one colour per bin, the last for everything deeper than the last bound (sequential blues)
DEPTH_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")

#: dike freeboard classes (``freeboard_class`` of the dikes layer), worst first
#: (the keys and their order are risk's, the one place that classifies freeboard)
FREEBOARD = tuple(MapClass(key, zh, en, colour) for key, (zh, en, colour) in zip(FREEBOARD_CLASSES, (
    ("漫顶", "overtopped", "#c2185b"),
    ("超高<1 m", "freeboard < 1 m", "#e53935"),
    ("超高1–2 m", "freeboard 1–2 m", "#ffb300"),
    ("超高≥2 m", "freeboard ≥ 2 m", "#2e7d32"),
), strict=True))

DRY_COLOUR = "#f5f5f5"


def village_colour(hazard_class: str) -> str:
    """Marker colour of a village by its hazard class name (``dry`` -> near white)."""
    for c in HAZARD:
        if c.key == hazard_class:
            return c.colour
    return DRY_COLOUR
