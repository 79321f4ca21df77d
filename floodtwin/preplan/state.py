"""The plain data the preplan engine reads and returns: flow state, dangers, risk facts, decisions.

``FlowState`` is what a caller knows at one moment (observed and forecast discharge at
Huayuankou, time, the previous decision, dangers, risk facts, command order); ``TierDecision`` is
what ``Preplan.evaluate`` answers: the tier, its colour, why, and the bookkeeping (since when the
flow has been high, since when it has been low) that the next evaluation needs for hysteresis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Mapping

__all__ = ["Danger", "RiskFacts", "TierDecision", "FlowState"]


@dataclass(frozen=True)
class Danger:
    """A dike danger (险情) at a works: from a field report or a smart-stone alarm.

    ``severity`` is matched against the preplan's ``triggers.works_danger.severities`` ("major"
    by default); ``kind`` is free text such as "root_stone_loss" or "piping".
    """

    works_id: str
    kind: str
    severity: str = "major"
    source: str = "report"  # report | stone
    spur_id: str | None = None


@dataclass(frozen=True)
class RiskFacts:
    """Per-object risk from a hydraulic run (or the flood-map library), keyed by object id.

    Depths and freeboards in metres, arrival times in seconds after the start of the run. An
    object missing from a mapping falls back, for that object only, to the rating rule (and its
    tasks say so).
    """

    village_max_depth_m: Mapping[str, float] = field(default_factory=dict)
    village_arrival_time_s: Mapping[str, float] = field(default_factory=dict)
    segment_freeboard_m: Mapping[str, float] = field(default_factory=dict)
    segment_toe_depth_m: Mapping[str, float] = field(default_factory=dict)
    spur_freeboard_m: Mapping[str, float] = field(default_factory=dict)
    source: str = "hydraulic run"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "risk facts") -> "RiskFacts":
        """Build from a plain mapping (e.g. a JSON file); InputError names the bad key or value."""
        from floodtwin.errors import InputError

        if not isinstance(data, Mapping):
            raise InputError(f"{where}: expected an object of risk mappings")
        names = {f for f in cls.__dataclass_fields__}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                raise InputError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(names))})")
            if key == "source":
                kwargs[key] = str(value)
                continue
            if not isinstance(value, Mapping):
                raise InputError(f"{where}: {key}: expected an object of id -> number")
            clean = {}
            for oid, v in value.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                    raise InputError(f"{where}: {key}.{oid}: expected a number, got {v!r}")
                clean[str(oid)] = float(v)
            kwargs[key] = clean
        return cls(**kwargs)

    #: which reach layer (GeoPackage layer, words) each mapping's ids name
    ID_LAYERS = {"village_max_depth_m": ("villages", "village"), "village_arrival_time_s": ("villages", "village"),
                 "segment_freeboard_m": ("dikes", "dike segment"), "segment_toe_depth_m": ("dikes", "dike segment"),
                 "spur_freeboard_m": ("spurs", "spur")}

    def require_known(self, tables: Any, *, where: str = "risk facts") -> "RiskFacts":
        """Self, if every id names an object of the reach (``tables``: ReachTables); InputError
        naming the first unknown id otherwise (a fact about an object the reach does not have is a
        mistake in the file, not a risk to ignore)."""
        from floodtwin.errors import InputError

        for key, (layer, words) in self.ID_LAYERS.items():
            for oid in getattr(self, key):
                if layer in tables.layers and tables.record(layer, oid) is None:
                    raise InputError(f"{where}: {key}.{oid}: no {words} {oid!r} in reach {tables.name}")
        return self


@dataclass(frozen=True)
class TierDecision:
    """The response tier at one moment and why.

    ``discharge_m3s`` is the deciding discharge (the larger of observed and forecast, m³/s);
    ``flow_tier`` the tier of that discharge alone; ``trigger`` names what set the tier
    ("discharge", "forecast", "duration", "works_danger", "dike_toe_water", "command", "hold",
    "stand_down"); ``above_since`` is when the flow reached the duration threshold and
    ``below_since`` when a de-escalation of this tier became pending (both None when not
    applicable); ``below_since_by_tier`` holds, for each tier up to this one whose stand-down level
    the state has stayed under, since when (tier id -> time), so that a fall over several tiers
    steps down only as far as the hold time allows for each; ``reason_zh`` is the reason in Chinese.
    ``TierDecision(**decision.to_dict())`` rebuilds a decision (ISO strings are read back as times).
    """

    tier: str
    colour: str
    rank: int
    reason: str
    trigger: str
    discharge_m3s: float
    flow_tier: str
    observed_m3s: float | None = None
    forecast_m3s: float | None = None
    time: datetime | None = None
    above_since: datetime | None = None
    below_since: datetime | None = None
    active_triggers: tuple[str, ...] = ()
    reason_zh: str = ""
    below_since_by_tier: tuple[tuple[str, datetime], ...] = ()

    def __post_init__(self) -> None:
        # accept what to_dict() wrote (ISO strings, lists, a mapping) so a stored decision round-trips
        for key in ("time", "above_since", "below_since"):
            value = getattr(self, key)
            if isinstance(value, str):
                object.__setattr__(self, key, _parse_time(value, key))
        pairs = self.below_since_by_tier
        pairs = pairs.items() if isinstance(pairs, Mapping) else (pairs or ())
        object.__setattr__(self, "below_since_by_tier", tuple(
            (str(tier), _parse_time(t, f"below_since_by_tier.{tier}") if isinstance(t, str) else t)
            for tier, t in pairs))
        object.__setattr__(self, "active_triggers", tuple(self.active_triggers or ()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601 strings)."""
        d = asdict(self)
        for key in ("time", "above_since", "below_since"):
            if d[key] is not None:
                d[key] = d[key].isoformat()
        d["active_triggers"] = list(self.active_triggers)
        d["below_since_by_tier"] = {tier: t.isoformat() for tier, t in self.below_since_by_tier}
        return d


def _parse_time(text: str, key: str) -> datetime:
    from floodtwin.errors import InputError

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"tier decision: {key}: not an ISO 8601 time: {text!r}") from None


@dataclass(frozen=True)
class FlowState:
    """What is known at one moment, for ``Preplan.evaluate``.

    Discharges in m³/s at the preplan's reference station (Huayuankou); at least one of
    ``observed_m3s`` and ``forecast_m3s`` is needed. ``duration_days`` overrides the time the flow
    has been at or above the duration threshold (else it is tracked through ``previous``).
    ``command_tier`` is an explicit order of the flood command to respond at that tier.
    """

    observed_m3s: float | None = None
    forecast_m3s: float | None = None
    time: datetime | None = None
    previous: TierDecision | None = None
    duration_days: float | None = None
    dangers: tuple[Danger, ...] = ()
    risk: RiskFacts | None = None
    command_tier: str | None = None
    command_note: str = ""
