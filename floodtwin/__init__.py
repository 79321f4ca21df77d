"""floodtwin: flood-defence digital twin and task dispatcher for the Huayuankou reach.

The public API is imported lazily so that ``import floodtwin`` (and ``floodtwin --help``) stays
fast: numba, geopandas and xarray load only when a function that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_LAZY = {
    "load_reach": "floodtwin.reach:load_reach",
    "Reach": "floodtwin.reach:Reach",
    "FloodtwinError": "floodtwin.errors:FloodtwinError",
    "InputError": "floodtwin.errors:InputError",
    "ConfigError": "floodtwin.errors:ConfigError",
    "DataError": "floodtwin.errors:DataError",
    "Preplan": "floodtwin.preplan:Preplan",
    "TierDecision": "floodtwin.preplan:TierDecision",
    "FlowState": "floodtwin.preplan:FlowState",
    "RiskFacts": "floodtwin.preplan:RiskFacts",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'floodtwin' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
