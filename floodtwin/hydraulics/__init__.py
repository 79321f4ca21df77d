"""Hydraulic engines: the 1D channel (Preissmann), the 2D floodplain, their coupling and the 1D calibration.

Names are exported lazily (numba compiles only when a model is first used).
"""

from __future__ import annotations

from floodtwin._lazy import attach

# public name -> "module:attribute"
_LAZY = {
    # 2D floodplain
    "simulate_2d": "floodtwin.hydraulics.floodplain:simulate_2d",
    "Floodplain": "floodtwin.hydraulics.floodplain:Floodplain",
    "Wall": "floodtwin.hydraulics.boundaries:Wall",
    "Inflow": "floodtwin.hydraulics.boundaries:Inflow",
    "Stage": "floodtwin.hydraulics.boundaries:Stage",
    "FreeOutflow": "floodtwin.hydraulics.boundaries:FreeOutflow",
    "NormalDepth": "floodtwin.hydraulics.boundaries:NormalDepth",
    "PointSource": "floodtwin.hydraulics.boundaries:PointSource",
    # 1D channel
    "Sections": "floodtwin.hydraulics.sections:Sections",
    "RatingCurve": "floodtwin.hydraulics.channel:RatingCurve",
    "read_sections": "floodtwin.hydraulics.sections:read_sections",
    "sections_from_reach": "floodtwin.hydraulics.sections:sections_from_reach",
    "steady_profile": "floodtwin.hydraulics.channel:steady_profile",
    "simulate_1d": "floodtwin.hydraulics.channel:simulate_1d",
    "rating_at": "floodtwin.hydraulics.channel:rating_at",
    "simulate_coupled": "floodtwin.hydraulics.coupling:simulate_coupled",
    "Breach": "floodtwin.hydraulics.coupling:Breach",
    # calibration of the 1D channel against observed stages
    "calibrate": "floodtwin.hydraulics.calibration:calibrate",
    "rating": "floodtwin.hydraulics.calibration:rating",
    "CalibrationFile": "floodtwin.hydraulics.sections:CalibrationFile",
}

__getattr__, __dir__, __all__ = attach(__name__, _LAZY, globals())
