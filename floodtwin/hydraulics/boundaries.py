"""Boundary conditions of the 2D floodplain model and their validation.

Edges are named by compass direction on the model grid: ``"west"`` (x minimum), ``"east"``
(x maximum), ``"south"`` (y minimum) and ``"north"`` (y maximum). ``start_m``/``end_m`` are
coordinates along the edge in the grid's own coordinate system (x for the south and north edges,
y for the west and east edges; for a plain array that is the distance from the south-west corner,
cell centres at (j + 0.5)·dx). A cell belongs to a segment when its centre lies in
[start_m, end_m]; ``None`` means the whole edge. Time series are (times_s, values) pairs, linearly
interpolated, and must cover the whole run. Every edge cell that no boundary names is a wall.

Each class checks its own fields when constructed (one-line :class:`~floodtwin.errors.InputError`);
what depends on the grid or the run (does the segment touch an active cell, does the series cover
the duration) is checked by :func:`floodtwin.hydraulics.simulate_2d` before it computes anything.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass
from typing import Sequence

import numpy as np

from floodtwin.errors import InputError
from floodtwin._renamed import rename_kwargs

__all__ = ["EDGES", "FreeOutflow", "Inflow", "NormalDepth", "PointSource", "Stage", "Wall"]

EDGES = ("west", "east", "south", "north")

# the integer codes the kernels understand live in floodtwin.hydraulics._codes (BC_WALL ... BC_NORMAL)


def _check_edge(kind: str, edge: str) -> None:
    if edge not in EDGES:
        raise InputError(f"{kind}: edge {edge!r} is not one of {', '.join(EDGES)}")


def _check_segment(kind: str, start_m: float | None, end_m: float | None) -> None:
    for name, value in (("start_m", start_m), ("end_m", end_m)):
        if value is not None and not math.isfinite(float(value)):
            raise InputError(f"{kind}: {name} = {value} is not a finite number")
    if start_m is not None and end_m is not None and float(end_m) < float(start_m):
        raise InputError(f"{kind}: end_m = {end_m} is before start_m = {start_m}")


def _series(kind: str, name: str, times_s: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Validate a time series: 1-D, same length, finite, strictly increasing times."""
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.ndim == 0 and v.ndim == 0:  # a constant given as two scalars
        t, v = t.reshape(1), v.reshape(1)
    if t.ndim != 1 or v.ndim != 1 or t.size != v.size or t.size == 0:
        raise InputError(f"{kind}: times_s and {name} must be 1-D sequences of equal, non-zero length "
                         f"(got {t.shape} and {v.shape})")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
        raise InputError(f"{kind}: times_s and {name} must be finite numbers")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise InputError(f"{kind}: times_s must increase strictly")
    return t, v


class _Series:
    """Mixin: a linearly interpolated time series with a coverage check."""

    _t: np.ndarray
    _v: np.ndarray

    def value_at(self, t_s: float) -> float:
        """The series at ``t_s`` seconds (linear interpolation)."""
        return float(np.interp(t_s, self._t, self._v))

    def check_covers(self, duration_s: float) -> None:
        """Raise InputError unless the series spans [0, duration_s]."""
        t0, t1 = float(self._t[0]), float(self._t[-1])
        if self._t.size == 1 or t0 > 0.0 or t1 < duration_s:
            raise InputError(f"{self.describe()}: time series covers {t0:g}–{t1:g} s but the run needs "
                             f"0–{duration_s:g} s")

    def describe(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__


@dataclass(frozen=True)
class Wall:
    """A closed (reflecting) edge segment; the default on every edge."""

    edge: str
    start_m: float | None = None
    end_m: float | None = None

    def __post_init__(self) -> None:
        _check_edge("Wall", self.edge)
        _check_segment("Wall", self.start_m, self.end_m)

    def describe(self) -> str:
        return f"Wall({self.edge})"


@dataclass(frozen=True, eq=False)
class Inflow(_Series):
    """Total discharge (m³ s⁻¹) entering through an edge segment, spread over its cells by conveyance.

    Cells get ``Q · K_j / ΣK`` with ``K_j = max(h_j, 0.01 m)^(5/3) / n_j``, so a dry segment still
    takes the water (evenly, for a uniform n) and a wet one sends it where the flow is deep.
    """

    edge: str
    start_m: float | None
    end_m: float | None
    times_s: Sequence[float]
    discharge_m3s: Sequence[float]

    def __post_init__(self) -> None:
        _check_edge("Inflow", self.edge)
        _check_segment("Inflow", self.start_m, self.end_m)
        t, v = _series(self.describe(), "discharge_m3s", self.times_s, self.discharge_m3s)
        if np.any(v < 0):
            raise InputError(f"{self.describe()}: discharge_m3s must be ≥ 0 (use FreeOutflow or NormalDepth "
                             "for water leaving)")
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_v", v)

    def describe(self) -> str:
        return f"Inflow({self.edge}, {self.start_m}–{self.end_m} m)"


@dataclass(frozen=True, eq=False)
class Stage(_Series):
    """A prescribed water level (m, same datum as the bed) on an edge segment; flow in or out."""

    edge: str
    start_m: float | None
    end_m: float | None
    times_s: Sequence[float]
    stage_m: Sequence[float]

    def __post_init__(self) -> None:
        _check_edge("Stage", self.edge)
        _check_segment("Stage", self.start_m, self.end_m)
        t, v = _series(self.describe(), "stage_m", self.times_s, self.stage_m)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_v", v)

    def describe(self) -> str:
        return f"Stage({self.edge}, {self.start_m}–{self.end_m} m)"


@dataclass(frozen=True)
class FreeOutflow:
    """Water leaves freely (transmissive for ``godunov``, water-surface slope extrapolated for
    ``inertial``); nothing enters."""

    edge: str
    start_m: float | None = None
    end_m: float | None = None

    def __post_init__(self) -> None:
        _check_edge("FreeOutflow", self.edge)
        _check_segment("FreeOutflow", self.start_m, self.end_m)

    def describe(self) -> str:
        return f"FreeOutflow({self.edge})"


@dataclass(frozen=True)
class NormalDepth:
    """Outflow at Manning normal flow for the given energy slope (m/m): q = h^(5/3)·√S / n.

    ``manning_n`` (s m^-1/3) overrides the roughness of the edge cells when given; ``manning`` is
    its deprecated name (one release).
    """

    edge: str
    slope: float
    start_m: float | None = None
    end_m: float | None = None
    manning_n: float | None = None
    manning: InitVar[float | None] = None

    def __post_init__(self, manning: float | None) -> None:
        if manning is not None:
            given = rename_kwargs("NormalDepth", {"manning": manning, **({} if self.manning_n is None else
                                                                        {"manning_n": self.manning_n})},
                                  {"manning": "manning_n"}, stacklevel=4)
            object.__setattr__(self, "manning_n", given["manning_n"])
        _check_edge("NormalDepth", self.edge)
        _check_segment("NormalDepth", self.start_m, self.end_m)
        if not (math.isfinite(float(self.slope)) and float(self.slope) > 0):
            raise InputError(f"NormalDepth({self.edge}): slope = {self.slope} must be a positive number (m/m)")
        if self.manning_n is not None and not (math.isfinite(float(self.manning_n)) and float(self.manning_n) > 0):
            raise InputError(f"NormalDepth({self.edge}): manning_n = {self.manning_n} must be a positive number")

    def describe(self) -> str:
        return f"NormalDepth({self.edge}, slope={self.slope})"


@dataclass(frozen=True, eq=False)
class PointSource(_Series):
    """Discharge (m³ s⁻¹) added to the cell containing (x_m, y_m), e.g. a dike breach; a negative
    discharge withdraws water, never more than the cell holds (the volume taken is what the mass
    balance counts)."""

    x_m: float
    y_m: float
    times_s: Sequence[float]
    discharge_m3s: Sequence[float]

    def __post_init__(self) -> None:
        for name in ("x_m", "y_m"):
            if not math.isfinite(float(getattr(self, name))):
                raise InputError(f"PointSource: {name} = {getattr(self, name)} is not a finite number")
        t, v = _series(self.describe(), "discharge_m3s", self.times_s, self.discharge_m3s)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_v", v)

    def describe(self) -> str:
        return f"PointSource({self.x_m}, {self.y_m})"
