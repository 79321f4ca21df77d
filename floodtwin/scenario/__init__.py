"""Orchestrator 1: what a discharge, a hydrograph or a named scenario means for the reach.

:func:`~floodtwin.scenario.run.run_scenario` runs it (quick 1D, or the full coupled 1D–2D flood),
:func:`~floodtwin.scenario.outputs.write_outputs` writes its files (result, risk layers, tasks, maps,
summary) into one folder.
"""

from floodtwin.scenario.run import ScenarioResult, run_scenario

__all__ = ["ScenarioResult", "run_scenario"]
