"""One duty-officer run end to end: "what does 22,000 m³/s mean?"

discharge -> design hydrograph -> calibrated 1D channel model of the reach (Preissmann) -> water
against every dike section (freeboard), floodplain villages that flood and when, who must be moved
-> the preplan's tier and its task instructions, with the risk-driven scopes decided by the run.

This module and ``alerts`` are the only orchestrators: every step is a library call on plain data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from floodtwin.errors import ModelError, require_discharge_m3s

__all__ = ["ScenarioResult", "run_scenario"]


@dataclass
class ScenarioResult:
    """Everything a duty officer reads for one discharge (tables are pandas DataFrames)."""

    discharge_m3s: float
    decision: Any  # preplan TierDecision
    gauge_stage_m: float
    dikes: Any  # per dike segment: water level, crest, freeboard, class, time of minimum freeboard
    villages: Any  # per floodplain village: ground, water level, depth, arrival, people to move
    tasks: list
    hydrograph: Any
    method: str
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def flooded_villages(self):
        return self.villages[self.villages["flooded"]]

    def people_to_move(self) -> dict[str, int]:
        v = self.flooded_villages
        return {"population": int(v["population"].sum()), "households": int(v["households"].sum()),
                "special_attention": int(v["special_attention"].sum()), "villages": int(len(v))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: tier, gauge stage, dike segments, villages, people, tasks."""
        d = self.decision
        dikes = self.dikes
        cols = ["segment_id", "bank", "post_from", "post_to", "crest_elevation_m", "max_water_level_m",
                "freeboard_m", "freeboard_class", "time_min_freeboard_s"]
        return {
            "discharge_m3s": self.discharge_m3s,
            "tier": d.tier, "colour": d.colour, "reason": d.reason,
            "gauge_stage_m": round(self.gauge_stage_m, 3),
            "method": self.method,
            "min_freeboard_m": round(float(dikes["freeboard_m"].min()), 3),
            "dike_segments": _records(dikes[cols]),
            "villages": _records(self.villages),
            "people_to_move": self.people_to_move(),
            "task_count": len(self.tasks),
            "tasks": [t.to_dict() for t in self.tasks],
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
        }


def _records(df) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        (round(v, 3) if isinstance(v, float) else (v.item() if hasattr(v, "item") else v)))
                    for k, v in rec.items() if k != "geometry"})
    return out


def run_scenario(discharge_m3s: float, *, reach=None, preplan=None, unsteady: bool = True,
                 dt_s: float = 120.0) -> ScenarioResult:
    """Run the scenario for a peak discharge at Huayuankou (m³/s).

    ``unsteady=True`` routes the design hydrograph scaled to that peak through the calibrated 1D
    model (arrival times, time of minimum freeboard); ``False`` uses the steady profile of the peak
    (the envelope, faster, no times). A discharge outside the model's valid range, or a run that
    fails its sanity checks (not converged, not finite, outside the tables, volume not balanced), is
    a ModelError with the reason: never a level or a task.
    """
    from floodtwin.hydraulics import sections_from_reach, simulate_1d, steady_profile
    from floodtwin.hydraulics.sanity import require_in_range
    from floodtwin.hydrograph import design_hydrograph
    from floodtwin.preplan import FlowState, Preplan, RiskFacts
    from floodtwin.reach import load_reach
    from floodtwin.risk import freeboard, stage_along, toe_depth_m, village_exposure

    q = require_discharge_m3s(discharge_m3s, name="discharge_m3s", positive=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    reach = reach if reach is not None else load_reach("huayuankou")
    preplan = preplan if preplan is not None else Preplan.load()
    sections = sections_from_reach(reach)
    require_in_range(sections, q, name="discharge")  # a flow the model cannot answer is refused, not guessed
    timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hydro = None
    if unsteady:
        hydro = design_hydrograph(q)
        try:
            run = simulate_1d(sections, (hydro.times_s, hydro.discharge_m3s), float(hydro.times_s[-1]), dt_s=dt_s,
                              output_interval_s=600.0)
        except ModelError as exc:  # still no answer: say what else the officer can ask for
            raise ModelError(f"{exc}; the steady envelope of the peak (--steady) may still be computed") from None
        stage = run["stage"].transpose("time", "chainage").values
        times = run["time"].values.astype(float)
        method = f"1D unsteady (Preissmann, calibrated) on the design hydrograph, peak {q:,.0f} m³/s"
    else:
        run = steady_profile(sections, q)
        stage = run["stage"].values[None, :]
        times = np.array([np.nan])
        method = f"1D steady profile (standard step, calibrated) at {q:,.0f} m³/s"
    timings["hydraulics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    chain = run["chainage"].values.astype(float)
    dikes = freeboard(run, reach.dikes)
    dikes = dikes.drop(columns=["geometry"], errors="ignore")
    # the natural levee (滩唇) is known only when the reach has its terrain parameters
    lip_of = reach.terrain.lip_m if reach.params is not None else None
    mid = 0.5 * (dikes["chainage_from_m"].to_numpy(float) + dikes["chainage_to_m"].to_numpy(float))
    toe_depth = toe_depth_m(dikes["max_water_level_m"].to_numpy(float), dikes["toe_elevation_m"].to_numpy(float),
                            lip_of(mid) if lip_of else None)
    lip = lip_of(reach.villages["chainage_m"].to_numpy(float)) if lip_of else None
    villages = village_exposure(reach.villages, chain, stage, times, lip)
    gauge_stage = float(stage_along(chain, stage, np.array([reach.gauge_chainage_m])).max())
    risk = RiskFacts(
        village_max_depth_m=dict(zip(villages["village_id"], villages["max_depth_m"].astype(float))),
        village_arrival_time_s={v: float(t) for v, t in zip(villages["village_id"], villages["arrival_time_s"])
                                if np.isfinite(t)},
        segment_freeboard_m=dict(zip(dikes["segment_id"], dikes["freeboard_m"].astype(float))),
        segment_toe_depth_m=dict(zip(dikes["segment_id"], toe_depth)),
        source=method,
    )
    # the tier from the flow and from what the run found (water at the dike toe raises it)
    decision = preplan.evaluate(FlowState(observed_m3s=q, risk=risk))
    tasks = preplan.tasks_for(decision, reach, risk)
    timings["risk_and_tasks"] = time.perf_counter() - t0
    return ScenarioResult(q, decision, gauge_stage, dikes, villages, tasks, hydro, method, timings)
