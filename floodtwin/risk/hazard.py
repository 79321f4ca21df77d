"""Flood hazard to people: the hazard rating of the UK Defra / Environment Agency method.

``HR = d·(v + 0.5) + DF`` with d the depth (m), v the speed (m/s) and DF the debris factor: 0 for
d ≤ 0.25 m, 0.5 above, 1 where v > 2 m/s (Defra/EA R&D outputs FD2320/TR2 "Flood risks to people,
phase 2", 2006, and FD2321/TR1 "Flood hazard mapping", table 3.2 / 13.1). Classes (FD2320 table 13.1):
low < 0.75 ("caution"), moderate 0.75–1.25 ("dangerous for some": children, the elderly, the infirm),
significant 1.25–2.0 ("dangerous for most"), extreme > 2.0 ("dangerous for all", the emergency
services included).

The 2D engine accumulates the rating's maximum over time per cell (``max_hazard_rating``: depth and
speed at the same step, not the two maxima, which need not coincide); this module classifies it and
gives the same formula for checks on arrays. A cell that never holds more than ``WET_DEPTH_M`` is
dry: class 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HAZARD_BOUNDS", "HAZARD_CLASSES", "WET_DEPTH_M", "debris_factor", "hazard_class_code",
           "hazard_class_name", "hazard_rating"]

#: class names by code: 0 dry, then the four FD2320 classes
HAZARD_CLASSES = ("dry", "low", "moderate", "significant", "extreme")
#: upper bounds of low, moderate, significant (HR, dimensionless); extreme above the last
HAZARD_BOUNDS = (0.75, 1.25, 2.0)
#: least maximum depth (m) at which a cell or village counts as flooded; also the arrival threshold
#: of the full run (the first time the depth exceeds it): thinner films are wet ground, not a flood
WET_DEPTH_M = 0.05


def debris_factor(depth_m, speed_ms) -> np.ndarray:
    """Debris factor DF of FD2320: 0 for d ≤ 0.25 m, 0.5 deeper, 1 where also v > 2 m/s."""
    d = np.asarray(depth_m, float)
    v = np.asarray(speed_ms, float)
    return np.where(d <= 0.25, 0.0, np.where(v > 2.0, 1.0, 0.5))


def hazard_rating(depth_m, speed_ms) -> np.ndarray:
    """HR = d·(v + 0.5) + DF (dimensionless), elementwise."""
    d = np.asarray(depth_m, float)
    return d * (np.asarray(speed_ms, float) + 0.5) + debris_factor(d, speed_ms)


def hazard_class_code(rating, max_depth_m) -> np.ndarray:
    """Class code (int8: 0 dry, 1 low, 2 moderate, 3 significant, 4 extreme) of each rating; cells whose
    maximum depth stays at or below ``WET_DEPTH_M`` (or NaN: outside the model) are 0."""
    hr = np.asarray(rating, float)
    wet = np.nan_to_num(np.asarray(max_depth_m, float), nan=0.0) > WET_DEPTH_M
    hr = np.nan_to_num(hr, nan=0.0)
    low, moderate, significant = HAZARD_BOUNDS
    # FD2321's bounds: 0.75 and 1.25 open the class above them, "extreme" is strictly above 2.0
    code = 1 + (hr >= low).astype(int) + (hr >= moderate) + (hr > significant)
    return np.where(wet, code, 0).astype(np.int8)


def hazard_class_name(code) -> np.ndarray:
    """Class names of codes (see ``HAZARD_CLASSES``)."""
    return np.asarray(HAZARD_CLASSES, dtype=object)[np.asarray(code, int)]
