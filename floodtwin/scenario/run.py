"""One duty-officer run end to end: "what does 22,000 m³/s mean?"

discharge (or a hydrograph, or a named scenario) -> the run -> water against every dike section
(freeboard), floodplain villages that flood and when, who must be moved -> the preplan's tier and its
task instructions, with the risk-driven scopes decided by the run. Two runs answer:

* the quick one (default): from the flood-map library when it is built and fresh (the full coupled runs
  of the neighbouring discharges, water level interpolated; docs/library.md), in well under a second;
  else the calibrated 1D channel model of the reach (Preissmann)
  on the design hydrograph; a village floods when the channel's level at its chainage stands above
  its ground and above the natural levee;
* the full one (``full=True``): the coupled 1D channel + 2D floodplain model on the reach DEM, with
  any dike breaches; depth, speed, arrival, duration and hazard per cell, and the risk of every
  village, grid, dike segment and works from where the water actually goes (``scenario.full``).

This package and ``alerts`` are the only orchestrators: every step is a library call on plain data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from floodtwin.errors import InputError, ModelError, require_discharge_m3s

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
    name: str = "design"
    run: Any = None  # the hydraulic result Dataset (1D, or coupled 1D–2D)
    flood: Any = None  # per-cell fields of the full run (max_depth, hazard, ...), else None
    layers: dict[str, Any] = field(default_factory=dict)  # risk GeoDataFrames of the full run
    flood_summary: dict[str, float] = field(default_factory=dict)
    breaches: tuple = ()
    reach: Any = field(default=None, repr=False)  # the reach the run was made on (its layers, its grid)
    answer: Any = field(default=None, repr=False)  # the flood-map library's LibraryAnswer, when it answered
    library_note: str = ""  # why the library did not answer (stale, out of range), when one was looked for

    @property
    def from_library(self) -> bool:
        """Whether the answer came from the flood-map library (precomputed full runs, interpolated)."""
        return self.answer is not None

    @property
    def full(self) -> bool:
        """Whether the answer came from the coupled 1D–2D run (else from the 1D model alone)."""
        return self.flood is not None

    @property
    def flooded_villages(self):
        return self.villages[self.villages["flooded"]]

    def people_to_move(self) -> dict[str, int]:
        v = self.flooded_villages
        return {"population": int(v["population"].sum()), "households": int(v["households"].sum()),
                "special_attention": int(v["special_attention"].sum()), "villages": int(len(v))}

    def to_dict(self, *, with_tasks: bool = True) -> dict[str, Any]:
        """JSON-ready summary: tier, gauge stage, dike segments, villages, people, tasks (the task
        instructions themselves left out with ``with_tasks=False``: summary.json holds their count)."""
        d = self.decision
        dikes = self.dikes
        cols = ["segment_id", "bank", "post_from", "post_to", "crest_elevation_m", "max_water_level_m",
                "freeboard_m", "freeboard_class", "time_min_freeboard_s"]
        out = {
            "scenario": self.name,
            "discharge_m3s": self.discharge_m3s,
            "tier": d.tier, "colour": d.colour, "reason": d.reason,
            "gauge_stage_m": round(self.gauge_stage_m, 3),
            "method": self.method,
            "model": ("coupled 1D-2D" if self.full else "flood-map library of coupled 1D-2D runs"
                      if self.from_library else "1D"),
            "min_freeboard_m": round(float(dikes["freeboard_m"].min()), 3),
            "dike_segments": _records(dikes[cols]),
            "villages": _records(self.villages),
            "people_to_move": self.people_to_move(),
            "task_count": len(self.tasks),
            "tasks": [t.to_dict() for t in self.tasks] if with_tasks else None,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
        }
        if self.from_library:
            a = self.answer
            out["library"] = {"source": a.source, "lower_m3s": a.lower_m3s, "upper_m3s": a.upper_m3s,
                              "weight": round(a.weight, 4), "onset": a.onset, "answer": a.describe()}
            out["flood"] = {k: round(v, 3) for k, v in self.flood_summary.items()}
            out["villages_by_hazard"] = _counts(self.villages["hazard_class"])
        elif self.library_note:
            out["library"] = {"not_used": self.library_note}
        if self.full:
            out["flood"] = {k: (v if "mass_balance" in k else round(v, 3)) for k, v in self.flood_summary.items()}
            out["breaches"] = [dict(b.__dict__) for b in self.breaches]
            out["villages_by_hazard"] = _counts(self.villages["hazard_class"])
            g = self.layers["grids"]
            out["grids_affected"] = _records(g[(g["flooded_area_km2"] > 0) | (g["people"] > 0)][
                ["grid_id", "name_en", "flooded_area_km2", "people", "villages", "task_count"]])
            w = self.layers["works"]
            out["works"] = _records(w[["works_id", "name_zh", "name_en", "max_speed_ms", "spur_max", "attack"]])
        return out


def _counts(values) -> dict[str, int]:
    from floodtwin.risk import HAZARD_CLASSES

    got = values.value_counts().to_dict()
    return {c: int(got.get(c, 0)) for c in HAZARD_CLASSES}


def _records(df) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        (round(v, 3) if isinstance(v, float) else (v.item() if hasattr(v, "item") else v)))
                    for k, v in rec.items() if k != "geometry"})
    return out


def run_scenario(discharge_m3s: float | None = None, *, hydrograph=None, name: str | None = None, full: bool = False,
                 breaches=(), resolution_m: float = 50.0, reach=None, preplan=None, unsteady: bool = True,
                 dt_s: float = 120.0, progress=None, now=None, library=None) -> ScenarioResult:
    """Run the scenario of a peak discharge at Huayuankou (m³/s), or of a ``hydrograph``
    (``floodtwin.hydrograph.Hydrograph``; its peak is the flow the tier is decided on).

    Quick run (``full=False``): ``unsteady=True`` routes the hydrograph (the design wave scaled to the
    peak when only a discharge is given) through the calibrated 1D model (arrival times, time of
    minimum freeboard); ``False`` uses the steady profile of the peak (the envelope, no times).
    Full run (``full=True``): the coupled 1D–2D model on the reach DEM at ``resolution_m``, with
    ``breaches`` (``hydrograph.BreachSpec``), ``progress(t_s, total_s)`` called as it runs; the
    preplan's risk facts then come from the 2D flood. ``now`` (UTC datetime) is the clock of the
    holders the full run names for the grids' tasks.

    A discharge outside the model's valid range, or a run that fails its sanity checks (not
    converged, not finite, outside the tables, volume not balanced), is a ModelError with the
    reason: never a level or a task.

    The quick run of a discharge on the design wave is answered from the flood-map library when one
    is there and fresh (``library``: its path; None: the reach's default library if built; False:
    never): the full coupled runs of the neighbouring discharges, water level interpolated
    (``floodtwin.library``), in well under a second. A stale library (its DEM, calibration or
    parameters changed) or a discharge outside its range is not used: the 1D model answers and
    ``library_note`` says why.
    """
    note = ""
    if (library is not False and not full and unsteady and hydrograph is None and not breaches and reach is None
            and discharge_m3s is not None):
        answered, note = _library_quick(discharge_m3s, library, preplan, name, resolution_m)
        if answered is not None:
            return answered
    result = _run_models(discharge_m3s, hydrograph=hydrograph, name=name, full=full, breaches=breaches,
                         resolution_m=resolution_m, reach=reach, preplan=preplan, unsteady=unsteady, dt_s=dt_s,
                         progress=progress, now=now)
    result.library_note = note
    return result


def _run_models(discharge_m3s, *, hydrograph, name, full, breaches, resolution_m, reach, preplan, unsteady, dt_s,
                progress, now) -> ScenarioResult:
    """The model runs of :func:`run_scenario` (quick 1D or full coupled)."""
    from floodtwin.hydraulics import sections_from_reach
    from floodtwin.hydraulics.sanity import require_in_range
    from floodtwin.hydrograph import design_hydrograph
    from floodtwin.preplan import Preplan
    from floodtwin.reach import load_reach

    if (discharge_m3s is None) == (hydrograph is None):
        raise InputError("run_scenario: give a discharge or a hydrograph (one of them)")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if hydrograph is None:
        q = require_discharge_m3s(discharge_m3s, name="discharge_m3s", positive=True)
    else:
        q = require_discharge_m3s(hydrograph.peak_m3s, name="peak discharge of the hydrograph", positive=True)
    if breaches and not full:
        raise InputError("breaches need the full run (--full): the 1D model has no land behind the dikes")
    reach = reach if reach is not None else load_reach("huayuankou", resolution_m=resolution_m)
    preplan = preplan if preplan is not None else Preplan.load()
    sections = sections_from_reach(reach)
    require_in_range(sections, q, name="discharge")  # a flow the model cannot answer is refused, not guessed
    if hydrograph is not None:
        require_in_range(sections, float(np.min(hydrograph.discharge_m3s)), name="lowest flow of the hydrograph")
    timings["load"] = time.perf_counter() - t0
    if full:
        from floodtwin.scenario.full import require_breach_on_reach

        hydro = hydrograph if hydrograph is not None else design_hydrograph(q)
        for b in breaches:  # a breach off the reach's dikes, or one that would open after the run, is refused
            require_breach_on_reach(reach, b, duration_s=float(hydro.times_s[-1]))
        label = "design hydrograph" if hydrograph is None else f"{name or 'given'} hydrograph"
        return _full(q, hydro, name or "design", label, reach, preplan, tuple(breaches), timings, progress, now)
    t0 = time.perf_counter()
    hydro = hydrograph
    if unsteady:
        from floodtwin.hydraulics import simulate_1d

        hydro = hydro if hydro is not None else design_hydrograph(q)
        try:
            run = simulate_1d(sections, (hydro.times_s, hydro.discharge_m3s), float(hydro.times_s[-1]), dt_s=dt_s,
                              output_interval_s=600.0)
        except ModelError as exc:  # still no answer: say what else the officer can ask for
            raise ModelError(f"{exc}; the steady envelope of the peak (--steady) may still be computed") from None
        method = f"1D unsteady (Preissmann, calibrated) on the {'given' if hydrograph is not None else 'design'} " \
                 f"hydrograph, peak {q:,.0f} m³/s"
    else:
        from floodtwin.hydraulics import steady_profile

        run = steady_profile(sections, q)
        method = f"1D steady profile (standard step, calibrated) at {q:,.0f} m³/s"
    timings["hydraulics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dikes, villages, risk, gauge_stage = _channel_risk(run, reach, method)
    decision, tasks = _tier_and_tasks(preplan, q, risk, reach)
    timings["risk_and_tasks"] = time.perf_counter() - t0
    return ScenarioResult(q, decision, gauge_stage, dikes, villages, tasks, hydro, method, timings,
                          name=name or "design", run=run, reach=reach)


def _stage_rows(run) -> tuple[np.ndarray, np.ndarray]:
    """(stage (time, chainage), times (s)) of a 1D result, one NaN-timed row for a steady profile."""
    if "time" in run["stage"].dims:
        return run["stage"].transpose("time", "chainage").values, run["time"].values.astype(float)
    return run["stage"].values[None, :], np.array([np.nan])


def _channel_risk(run, reach, method: str):
    """Dike freeboard, village exposure by the stage comparison, risk facts and the gauge's stage of a
    1D (or the coupled run's channel) result."""
    from floodtwin.risk import freeboard, stage_along, toe_depth_m, village_exposure

    stage, times = _stage_rows(run)
    chain = run["chainage"].values.astype(float)
    dikes = freeboard(run, reach.dikes)
    # the natural levee (滩唇) is known only when the reach has its terrain parameters
    lip_of = reach.terrain.lip_m if reach.params is not None else None
    mid = 0.5 * (dikes["chainage_from_m"].to_numpy(float) + dikes["chainage_to_m"].to_numpy(float))
    dikes["toe_depth_m"] = toe_depth_m(dikes["max_water_level_m"].to_numpy(float),
                                       dikes["toe_elevation_m"].to_numpy(float), lip_of(mid) if lip_of else None)
    lip = lip_of(reach.villages["chainage_m"].to_numpy(float)) if lip_of else None
    villages = village_exposure(reach.villages, chain, stage, times, lip)
    gauge_stage = float(stage_along(chain, stage, np.array([reach.gauge_chainage_m])).max())
    if "max_stage" in run:
        gauge_stage = max(gauge_stage, float(stage_along(chain, run["max_stage"].values,
                                                         np.array([reach.gauge_chainage_m])).max()))
    risk = _risk_facts(villages, dikes, method)
    return dikes, villages, risk, gauge_stage


def _risk_facts(villages, dikes, method: str):
    """The preplan's risk facts from the village and dike tables of a run (1D or coupled)."""
    from floodtwin.preplan import RiskFacts

    return RiskFacts(
        village_max_depth_m=dict(zip(villages["village_id"], villages["max_depth_m"].astype(float))),
        village_arrival_time_s={v: float(t) for v, t in zip(villages["village_id"], villages["arrival_time_s"])
                                if np.isfinite(t)},
        segment_freeboard_m=dict(zip(dikes["segment_id"], dikes["freeboard_m"].astype(float))),
        segment_toe_depth_m=dict(zip(dikes["segment_id"], dikes["toe_depth_m"].astype(float))),
        source=method,
    )


def _tier_and_tasks(preplan, q: float, risk, reach):
    """The tier from the flow and from what the run found (water at the dike toe raises it), and its tasks."""
    from floodtwin.preplan import FlowState

    decision = preplan.evaluate(FlowState(observed_m3s=q, risk=risk))
    return decision, preplan.tasks_for(decision, reach, risk)


def _full(q, hydro, name, label, reach, preplan, breaches, timings, progress, now) -> ScenarioResult:
    """The coupled 1D–2D run and the risk of every object from its flood."""
    from floodtwin.hydraulics import sections_from_reach
    from floodtwin.hydraulics.coupling import channel_only
    from floodtwin.risk import flood_summary, grid_risk
    from floodtwin.scenario.full import (breach_points, flood_fields, flood_run, object_risk, task_lines_by_grid,
                                         to_breach)

    t0 = time.perf_counter()
    run = flood_run(reach, hydro, [to_breach(reach, b) for b in breaches], progress=progress)
    timings["hydraulics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    flood = flood_fields(run, reach)
    gaps = "; ".join(f"breach at {b.chainage_m:,.0f} m {b.bank} from {b.start_h:g} h" for b in breaches)
    method = (f"coupled 1D–2D (1D Preissmann channel + 2D local-inertial floodplain, {reach.resolution_m:g} m) "
              f"on the {label}, peak {q:,.0f} m³/s" + (f"; {gaps}" if gaps else ""))
    dikes_channel, _, _, gauge_stage = _channel_risk(run, reach, method)
    sections = channel_only(sections_from_reach(reach))
    layers = object_risk(flood, run, reach, sections, dikes_channel)
    villages, dikes = layers["villages"], layers["dikes"]
    risk = _risk_facts(villages, dikes, method)
    decision, tasks = _tier_and_tasks(preplan, q, risk, reach)
    layers["grids"] = grid_risk(reach.grids, flood, villages, task_lines=task_lines_by_grid(tasks, reach, now=now))
    if breaches:
        layers["breaches"] = breach_points(reach, breaches)
    inside = flood["between_dikes"].values
    summary = {f"floodplain_{k}": v for k, v in flood_summary(flood, floodplain_mask=inside).items()}
    summary.update({f"behind_dikes_{k}": v for k, v in flood_summary(flood, floodplain_mask=~inside).items()})
    # the largest volume on the 2D grid at once (floodplain and, after a breach, the land behind the dikes)
    summary["floodplain_volume_peak_m3"] = float(run.attrs["volume_2d_peak_m3"])
    summary["mass_balance_relative_error"] = float(run.attrs["mass_balance_relative_to_inflow"])
    timings["risk_and_tasks"] = time.perf_counter() - t0
    return ScenarioResult(q, decision, gauge_stage, dikes.drop(columns="geometry"), villages.drop(columns="geometry"),
                          tasks, hydro, method, timings, name=name, run=run, flood=flood, layers=layers,
                          flood_summary=summary, breaches=breaches, reach=reach)


def library_member(discharge_m3s: float, folder, *, resolution_m: float = 50.0, duration_h: float | None = None,
                   reach_name: str = "huayuankou") -> None:
    """One member of the flood-map library: the full coupled run of the design wave peaking at
    ``discharge_m3s`` (m³/s) on the reach at ``resolution_m``, written to ``folder/member.nc``
    (``floodtwin.library.store.write_member``). ``duration_h`` compresses the wave's time axis to that
    length (same peak and shape; for small test libraries). Runs on a batch worker."""
    from pathlib import Path

    from floodtwin.hydrograph import Hydrograph, design_hydrograph
    from floodtwin.library.inputs import input_hashes
    from floodtwin.library.store import MEMBER_FILE, write_member
    from floodtwin.reach import load_reach

    q = require_discharge_m3s(discharge_m3s, name="member discharge", positive=True)
    reach = load_reach(reach_name, resolution_m=resolution_m)
    hydro = design_hydrograph(q)
    if duration_h is not None:
        scale = float(duration_h) * 3600.0 / float(hydro.times_s[-1])
        hydro = Hydrograph(hydro.times_s * scale, hydro.discharge_m3s)
    result = run_scenario(hydrograph=hydro, name=f"library-{q:.0f}", full=True, reach=reach)
    flood = result.flood
    xx, yy = np.meshgrid(flood.x.values, flood.y.values)
    s, _ = reach.terrain.frame.to_sn(xx.ravel(), yy.ravel())
    chain = result.run["chainage"].values.astype(float)
    peak = result.run["max_stage"].values.astype(float)
    channel_level = np.interp(s, chain, peak).reshape(xx.shape)
    villages = result.villages.copy()
    where = reach.villages.set_index("village_id").geometry
    villages["x_m"] = [float(where[v].x) for v in villages["village_id"]]
    villages["y_m"] = [float(where[v].y) for v in villages["village_id"]]
    write_member(Path(folder) / MEMBER_FILE, discharge_m3s=q, flood=flood, channel_level_m=channel_level,
                 chainage_m=chain, max_stage_m=peak, gauge_stage_m=result.gauge_stage_m, villages=villages,
                 dikes=result.dikes, works=result.layers["works"],
                 attrs=input_hashes(reach_name, resolution_m, duration_h=duration_h))


def _library_quick(discharge_m3s, library, preplan, name, resolution_m) -> tuple[ScenarioResult | None, str]:
    """(the library's answer, "") or (None, why the library did not answer). An explicitly named
    library that is missing is a DataError; the default one missing is just not used."""
    from floodtwin.library import open_library
    from floodtwin.library.inputs import default_library_path

    t0 = time.perf_counter()
    q = require_discharge_m3s(discharge_m3s, name="discharge_m3s", positive=True)
    path = library if library is not None else default_library_path("huayuankou", resolution_m)
    if library is None and not path.is_file():
        return None, f"no flood-map library at {path} (floodtwin library build makes it)"
    with open_library(path) as lib:
        stale = lib.stale_reasons()
        if stale:
            return None, f"flood-map library {lib.path} is stale ({'; '.join(stale)}): not used"
        lo, hi = float(lib.discharges_m3s[0]), float(lib.discharges_m3s[-1])
        if not lo <= q <= hi:
            return None, f"{q:,.0f} m³/s is outside the flood-map library ({lo:,.0f}–{hi:,.0f} m³/s)"
        answer = lib.lookup(q)
        reach_name = lib.reach
    if answer.onset:  # a dry and a wet member around q: no interpolated flood is an answer (library.lookup)
        return None, f"flood-map library {path.name}: {answer.gap()} ({q:,.0f} m³/s): not used"
    timings = {"library_lookup": time.perf_counter() - t0}
    t0 = time.perf_counter()
    result = library_result(answer, reach_name=reach_name, preplan=preplan, name=name)
    result.timings_s.update(timings, risk_and_tasks=time.perf_counter() - t0)
    return result, ""


def library_result(answer, *, reach_name: str = "huayuankou", preplan=None, name: str | None = None,
                   tables=None) -> ScenarioResult:
    """A ScenarioResult from a library answer: dike freeboard, villages, tier and tasks, on the reach's
    plain tables (``preplan.tables.ReachTables``: no GeoPackage geometry library, no DEM)."""
    import pandas as pd

    from floodtwin.preplan import Preplan
    from floodtwin.preplan.tables import ReachTables
    from floodtwin.risk.stage import freeboard_class

    tables = tables if tables is not None else ReachTables.read(reach_name)
    preplan = preplan if preplan is not None else Preplan.load()
    plain = lambda recs: [{k: v for k, v in r.items() if not k.startswith("_")} for r in recs]  # noqa: E731
    dikes = pd.DataFrame(plain(tables.layers["dikes"]))
    seg = pd.DataFrame({"segment_id": answer.segment_ids, **{k: v for k, v in answer.segments.items()
                                                             if k != "crest_elevation_m"}})
    dikes = dikes.merge(seg, on="segment_id", how="left", validate="one_to_one")
    missing = dikes["max_water_level_m"].isna()
    if missing.any():
        raise ModelError(f"flood-map library: no answer for dike segment(s) {', '.join(dikes['segment_id'][missing])} "
                         "(the reach changed since the library was built: rebuild it)")
    dikes["freeboard_m"] = dikes["crest_elevation_m"] - dikes["max_water_level_m"]
    dikes["freeboard_class"] = freeboard_class(dikes["freeboard_m"].to_numpy(float))
    villages = pd.DataFrame(plain(tables.layers["villages"]))
    vil = pd.DataFrame({"village_id": answer.village_ids, **answer.villages})
    villages = villages.merge(vil, on="village_id", how="left", validate="one_to_one")
    if villages["max_depth_m"].isna().any():
        raise ModelError("flood-map library: villages of the reach missing from the library (rebuild it)")
    villages["max_water_level_m"] = villages["ground_elevation_m"] + villages["max_depth_m"]
    method = answer.describe()
    risk = _risk_facts(villages, dikes, method)
    decision, tasks = _tier_and_tasks(preplan, answer.discharge_m3s, risk, tables)
    return ScenarioResult(answer.discharge_m3s, decision, answer.gauge_stage_m, dikes, villages, tasks, None, method,
                          dict(answer.timings_s), name=name or "design", flood_summary=dict(answer.summary),
                          answer=answer)
