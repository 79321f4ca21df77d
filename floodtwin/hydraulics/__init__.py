"""Hydraulic engines: the 1D channel (Preissmann), the 2D floodplain and their coupling.

Names are exported lazily (numba compiles only when a model is first used).
"""

from __future__ import annotations

import importlib
from typing import Any

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
    "Sections": "floodtwin.hydraulics.channel:Sections",
    "RatingCurve": "floodtwin.hydraulics.channel:RatingCurve",
    "read_sections": "floodtwin.hydraulics.channel:read_sections",
    "sections_from_reach": "floodtwin.hydraulics.channel:sections_from_reach",
    "steady_profile": "floodtwin.hydraulics.channel:steady_profile",
    "simulate_1d": "floodtwin.hydraulics.channel:simulate_1d",
    "rating_at": "floodtwin.hydraulics.channel:rating_at",
    "simulate_coupled": "floodtwin.hydraulics.coupling:simulate_coupled",
    "Breach": "floodtwin.hydraulics.coupling:Breach",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'floodtwin.hydraulics' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
