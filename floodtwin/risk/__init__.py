"""Risk from hydraulic results.

* :mod:`~floodtwin.risk.stage`: from the channel's water level — dike freeboard per segment, water at
  the dike toe, village exposure by the 1D stage comparison, the one stage interpolation;
* :mod:`~floodtwin.risk.hazard`: the Defra/EA hazard rating HR = d·(v + 0.5) + DF and its classes;
* :mod:`~floodtwin.risk.layers`: from a 2D (coupled) flood — per village, grid, dike segment and
  works, hazard polygons, inundated area.

Pure functions on arrays, Datasets and tables: ``floodtwin.scenario`` and ``floodtwin.alerts`` call them.
"""

from floodtwin.risk.hazard import (
    HAZARD_BOUNDS, HAZARD_CLASSES, WET_DEPTH_M, debris_factor, hazard_class_code, hazard_class_name, hazard_rating,
)
from floodtwin.risk.layers import (
    ATTACK_SPEED_MS, CELL_FIELDS, VILLAGE_RADIUS_M, cell_values_near, dike_risk, flood_summary, grid_risk,
    hazard_polygons, require_flood, village_risk, works_risk,
)
from floodtwin.risk.stage import FREEBOARD_CLASSES, freeboard, freeboard_class, stage_along, toe_depth_m, village_exposure

__all__ = [
    "ATTACK_SPEED_MS", "CELL_FIELDS", "FREEBOARD_CLASSES", "HAZARD_BOUNDS", "HAZARD_CLASSES", "VILLAGE_RADIUS_M",
    "WET_DEPTH_M", "cell_values_near", "debris_factor", "dike_risk", "flood_summary", "freeboard", "freeboard_class",
    "grid_risk", "hazard_class_code", "hazard_class_name", "hazard_polygons", "hazard_rating", "require_flood",
    "stage_along", "toe_depth_m", "village_exposure", "village_risk", "works_risk",
]
