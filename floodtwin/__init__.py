"""floodtwin: flood-defence digital twin and task dispatcher for the Huayuankou reach.

The public API is imported lazily so that ``import floodtwin`` (and ``floodtwin --help``) stays
fast: numba, geopandas and xarray load only when a function that needs them is first used.
"""

from __future__ import annotations

from floodtwin._lazy import attach

__version__ = "0.1.0"

# public name -> "module:attribute"
_LAZY = {
    "load_reach": "floodtwin.reach:load_reach",
    "simulate_2d": "floodtwin.hydraulics.floodplain:simulate_2d",
    "steady_profile": "floodtwin.hydraulics.channel:steady_profile",
    "simulate_1d": "floodtwin.hydraulics.channel:simulate_1d",
    "sections_from_reach": "floodtwin.hydraulics.sections:sections_from_reach",
    "simulate_coupled": "floodtwin.hydraulics.coupling:simulate_coupled",
    "freeboard": "floodtwin.risk:freeboard",
    "Reach": "floodtwin.reach:Reach",
    "FloodtwinError": "floodtwin.errors:FloodtwinError",
    "InputError": "floodtwin.errors:InputError",
    "ConfigError": "floodtwin.errors:ConfigError",
    "DataError": "floodtwin.errors:DataError",
    "ModelError": "floodtwin.errors:ModelError",
    "Preplan": "floodtwin.preplan:Preplan",
    "TierDecision": "floodtwin.preplan:TierDecision",
    "FlowState": "floodtwin.preplan:FlowState",
    "RiskFacts": "floodtwin.preplan:RiskFacts",
    "activate_discharge": "floodtwin.alerts:activate_discharge",
    "load_stone_registry": "floodtwin.sensors.registry:load_registry",
    "ingest_stone_readings": "floodtwin.alerts:ingest_stone_file",
    "run_alert": "floodtwin.alerts.run:run_alert",
    "load_alerts_config": "floodtwin.alerts.settings:load_alerts_config",
    "replay_season": "floodtwin.alerts.replay:replay",
    "read_feeds": "floodtwin.feeds:read_feeds",
    "check_observations": "floodtwin.feeds:check_observations",
    "fit_routing": "floodtwin.forecast:fit_routing",
    "forecast_skill": "floodtwin.forecast:skill",
    "FeedError": "floodtwin.errors:FeedError",
    "StaleDataError": "floodtwin.errors:StaleDataError",
    "simulate_stones": "floodtwin.sensors.simulate:simulate",
    "run_scenario": "floodtwin.scenario.run:run_scenario",
    "write_outputs": "floodtwin.scenario.outputs:write_outputs",
    "load_scenario": "floodtwin.hydrograph:load_scenario",
    "read_hydrograph_csv": "floodtwin.hydrograph:read_hydrograph_csv",
    "render_png": "floodtwin.maps:render_png",
    "render_html": "floodtwin.maps:render_html",
    "open_library": "floodtwin.library:open_library",
    "run_members": "floodtwin.batch:run_members",
}

__getattr__, __dir__, __all__ = attach(__name__, _LAZY, globals())
__all__ = [*__all__, "__version__"]
