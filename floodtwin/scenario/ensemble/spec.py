"""The ensemble YAML (``scenarios/ensembles/NAME.yaml``): what is uncertain, how it is distributed, how many
members, the seed, the grid and the outputs wanted.

Each uncertain quantity is a distribution: ``uniform`` (low, high), ``normal`` (mean, sd, optionally
truncated to [low, high]), ``choice`` (values, optional weights) or ``fixed`` (value). Numeric parameters
state their unit and the source of their numbers ([S] sourced, [D] data, [E] estimate), as the scenario
files do. Loaded by :func:`load_ensemble_spec`; every problem is one ConfigError naming file, line and key.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from floodtwin.config import StrictModel, load_yaml
from floodtwin.errors import MAX_DISCHARGE_M3S, ConfigError

__all__ = ["OUTPUTS", "BreachModel", "Choice", "EnsembleSpec", "Fixed", "Normal", "Parameters", "Uniform",
           "Window", "load_ensemble_spec"]

#: the files an ensemble can write: per-cell NetCDF, village/dike GeoPackage, probability map PNG and HTML
OUTPUTS = ("netcdf", "gpkg", "png", "html")
#: plausible Manning n of any surface (s m^-1/3), the 1D model's own bounds (hydraulics.sections)
N_RANGE = (0.003, 0.2)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")


def _finite(v: float, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{what}: expected a finite number, got {v!r}")
    return float(v)


class _Numeric(StrictModel):
    unit: str
    source: Literal["S", "D", "E"]
    note: str = ""

    def bounds(self) -> tuple[float, float]:
        """(smallest, largest) value a member can draw."""
        raise NotImplementedError


class Uniform(_Numeric):
    """Every value in [low, high] equally likely."""

    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> "Uniform":
        _finite(self.low, "low"), _finite(self.high, "high")
        if not self.low < self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        return self

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


class Normal(_Numeric):
    """A normal error around ``mean`` with standard deviation ``sd``, cut to [low, high] when given
    (a forecast error that cannot make the flow negative or leave the model's range)."""

    distribution: Literal["normal"]
    mean: float
    sd: float
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _check(self) -> "Normal":
        _finite(self.mean, "mean")
        if not _finite(self.sd, "sd") > 0:
            raise ValueError(f"sd {self.sd:g} must be positive")
        lo, hi = self.bounds()
        if not lo < self.mean < hi:
            raise ValueError(f"mean {self.mean:g} must lie between low {lo:g} and high {hi:g}")
        return self

    def bounds(self) -> tuple[float, float]:
        return (-math.inf if self.low is None else self.low), (math.inf if self.high is None else self.high)


class Fixed(_Numeric):
    """One value for every member."""

    distribution: Literal["fixed"]
    value: float

    @field_validator("value")
    @classmethod
    def _value(cls, v: float) -> float:
        return _finite(v, "value")

    def bounds(self) -> tuple[float, float]:
        return self.value, self.value


Numeric = Annotated[Union[Uniform, Normal, Fixed], Field(discriminator="distribution")]


class Choice(StrictModel):
    """One of ``values``, with ``weights`` (default equal; they are normalised)."""

    distribution: Literal["choice"]
    values: list[str]
    weights: list[float] | None = None
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> "Choice":
        if not self.values:
            raise ValueError("values: give at least one")
        if len(set(self.values)) != len(self.values):
            raise ValueError("values: each value once")
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights: {len(self.weights)} for {len(self.values)} values")
            if any(not math.isfinite(w) or w < 0 for w in self.weights) or not sum(self.weights) > 0:
                raise ValueError("weights: finite, non-negative, not all zero")
        return self

    def probabilities(self) -> list[float]:
        w = self.weights or [1.0] * len(self.values)
        return [x / sum(w) for x in w]


class BreachModel(StrictModel):
    """A dike breach in a share ``probability`` of the members: where (chainage, bank), when (hours after
    the crest of the member's own hydrograph, so it means the same for every shape), how wide and how fast."""

    probability: float = 1.0
    chainage_m: Numeric
    bank: Choice
    start_after_crest_h: Numeric
    final_width_m: Numeric
    time_to_full_h: Numeric
    note: str = ""

    @field_validator("probability")
    @classmethod
    def _p(cls, v: float) -> float:
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            raise ValueError(f"expected a probability in [0, 1], got {v!r}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "BreachModel":
        bad = [b for b in self.bank.values if b not in ("left", "right")]
        if bad:
            raise ValueError(f"bank: {bad[0]!r}: expected left or right")
        for name, unit in (("chainage_m", "m"), ("start_after_crest_h", "h"), ("final_width_m", "m"),
                           ("time_to_full_h", "h")):
            p = getattr(self, name)
            if p.unit != unit:
                raise ValueError(f"{name}: unit {p.unit!r}, expected {unit!r}")
        if self.chainage_m.bounds()[0] < 0:
            raise ValueError("chainage_m: the draws must be chainages >= 0 m (give low >= 0)")
        for name in ("final_width_m", "time_to_full_h"):
            if not getattr(self, name).bounds()[0] > 0:
                raise ValueError(f"{name}: every draw must be positive (give low > 0)")
        return self


class Parameters(StrictModel):
    """The uncertain quantities; one left out keeps the base scenario's value (the calibrated n, the
    base scenario's peak, its shape and its breaches)."""

    channel_n: Numeric | None = None
    floodplain_n: Numeric | None = None
    peak_m3s: Numeric | None = None
    shape: Choice | None = None
    breach: BreachModel | None = None

    @model_validator(mode="after")
    def _check(self) -> "Parameters":
        for name in ("channel_n", "floodplain_n"):
            p = getattr(self, name)
            if p is None:
                continue
            if p.unit != "s m-1/3":
                raise ValueError(f"{name}: unit {p.unit!r}, expected 's m-1/3'")
            lo, hi = p.bounds()
            if not (N_RANGE[0] <= lo and hi <= N_RANGE[1]):
                raise ValueError(f"{name}: draws from {lo:g} to {hi:g} leave the plausible Manning n "
                                 f"({N_RANGE[0]} to {N_RANGE[1]} s m-1/3): give low/high inside it")
        if self.peak_m3s is not None:
            p = self.peak_m3s
            if p.unit != "m3/s":
                raise ValueError(f"peak_m3s: unit {p.unit!r}, expected 'm3/s'")
            lo, hi = p.bounds()
            if not (lo > 0 and hi <= MAX_DISCHARGE_M3S):
                raise ValueError(f"peak_m3s: draws must lie in (0, {MAX_DISCHARGE_M3S:,.0f}] m3/s: give "
                                 "low > 0 and high (a normal error needs both)")
        return self


class Window(StrictModel):
    """Run only part of each member's hydrograph: from ``before_crest_h`` before its crest to
    ``after_crest_h`` after. The run starts from the steady channel at that hour's flow with a dry
    floodplain, so it under-fills the floodplain: for tests and quick looks, not for decisions."""

    before_crest_h: float
    after_crest_h: float

    @model_validator(mode="after")
    def _check(self) -> "Window":
        if not (_finite(self.before_crest_h, "before_crest_h") >= 0 and _finite(self.after_crest_h, "after_crest_h") > 0):
            raise ValueError("before_crest_h must be >= 0 h and after_crest_h > 0 h")
        return self


class EnsembleSpec(StrictModel):
    """An ensemble YAML: the base scenario, the uncertain parameters, the members, the seed, the grid,
    the outputs and the sources of the numbers."""

    name: str
    title_en: str
    title_zh: str
    base_scenario: str
    members: int
    seed: int
    resolution_m: float = 50.0
    parameters: Parameters
    window: Window | None = None
    outputs: list[Literal["netcdf", "gpkg", "png", "html"]] = list(OUTPUTS)
    sources: list[str]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r}: expected a folder name (letters, digits, '.', '-', '_')")
        return v

    @field_validator("members")
    @classmethod
    def _members(cls, v: int) -> int:
        if not 2 <= v <= 100_000:
            raise ValueError(f"{v}: expected 2 to 100,000 members")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"{v}: expected a whole number >= 0")
        return v

    @field_validator("resolution_m")
    @classmethod
    def _res(cls, v: float) -> float:
        if v not in (25.0, 50.0, 100.0):
            raise ValueError(f"{v:g}: expected 25, 50 or 100 (m)")
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, v: list[str]) -> list[str]:
        if not v or len(set(v)) != len(v):
            raise ValueError("give each output once, at least one")
        return v

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        if not v or any(not s.strip() for s in v):
            raise ValueError("name the sources of the ensemble's numbers, one non-empty line each")
        return v


def _check(spec: EnsembleSpec, lines, path: Path) -> None:
    """Checks that need other files: the base scenario and the shapes must be known scenarios."""
    from floodtwin.hydrograph import list_scenarios

    known = list_scenarios()

    def fail(loc: tuple, msg: str) -> None:
        line = lines().get(loc) or lines().get(loc[:-1]) or lines().get(loc[:1])
        raise ConfigError(f"{path}:{line}: {'.'.join(map(str, loc))}: {msg}" if line else f"{path}: {msg}")

    if spec.base_scenario not in known:
        fail(("base_scenario",), f"unknown scenario {spec.base_scenario!r}; known: {', '.join(known)}")
    if spec.parameters.shape is not None:
        for i, s in enumerate(spec.parameters.shape.values):
            if s not in known:
                fail(("parameters", "shape", "values", i), f"unknown scenario {s!r}; known: {', '.join(known)}")


def load_ensemble_spec(path: str | Path) -> EnsembleSpec:
    """Read an ensemble YAML; a ConfigError names the file, the line and the key of the first problem."""
    path = Path(path)
    return load_yaml(path, EnsembleSpec, kind="ensemble", check=lambda spec, lines: _check(spec, lines, path))
