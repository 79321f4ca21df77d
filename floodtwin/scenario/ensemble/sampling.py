"""The members of an ensemble: its parameters drawn by Latin hypercube (``scipy.stats.qmc``), reproducibly
from the spec's seed.

Each drawn quantity is one dimension of the hypercube (a choice too: its unit interval is cut by the
weights); a Latin hypercube puts exactly one member in each of the ``members`` equal slices of every
dimension, so a few hundred members cover the range of every parameter evenly where plain random draws
leave gaps. Quantities the spec does not draw keep the base scenario's value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MemberParams", "draw_dimensions", "member_name", "sample_members"]


@dataclass(frozen=True)
class MemberParams:
    """One member's parameters: Manning n of the channel and the floodplain (s m^-1/3; None keeps the
    calibration file's), the peak (m³/s) the ``shape`` scenario's hydrograph is scaled to, and its
    breaches: dicts of chainage_m, bank, start_after_crest_h (h after the hydrograph's crest),
    final_width_m, time_to_full_h."""

    name: str
    channel_n: float | None
    floodplain_n: float | None
    peak_m3s: float
    shape: str
    breaches: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["breaches"] = [dict(b) for b in self.breaches]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MemberParams":
        return cls(name=d["name"], channel_n=d["channel_n"], floodplain_n=d["floodplain_n"],
                   peak_m3s=float(d["peak_m3s"]), shape=str(d["shape"]),
                   breaches=tuple(dict(b) for b in d.get("breaches", ())))


def member_name(i: int, total: int) -> str:
    """``m0001``…: the folder of member ``i`` (from 0), zero-padded so folders sort in member order."""
    return f"m{i + 1:0{max(4, len(str(total)))}d}"


def draw_dimensions(spec) -> list[tuple[str, Any]]:
    """The (key, distribution) of each dimension of the hypercube, in a fixed order (so a seed always
    gives the same members): the quantities the spec draws, fixed ones and one-value choices left out."""
    p = spec.parameters
    dims: list[tuple[str, Any]] = []

    def add(key: str, dist) -> None:
        if dist is None or getattr(dist, "distribution", "") == "fixed":
            return
        if dist.distribution == "choice" and len(dist.values) == 1:
            return
        dims.append((key, dist))

    add("channel_n", p.channel_n)
    add("floodplain_n", p.floodplain_n)
    add("peak_m3s", p.peak_m3s)
    add("shape", p.shape)
    if p.breach is not None:
        b = p.breach
        if 0.0 < b.probability < 1.0:
            dims.append(("breach.occurs", b.probability))
        for key in ("chainage_m", "bank", "start_after_crest_h", "final_width_m", "time_to_full_h"):
            add(f"breach.{key}", getattr(b, key))
    return dims


def _quantile(dist, u: np.ndarray) -> np.ndarray:
    """Values of a distribution at probabilities ``u`` in [0, 1)."""
    if dist.distribution == "uniform":
        return dist.low + u * (dist.high - dist.low)
    if dist.distribution == "normal":
        from scipy.stats import truncnorm

        lo, hi = dist.bounds()
        a, b = (lo - dist.mean) / dist.sd, (hi - dist.mean) / dist.sd
        return truncnorm.ppf(u, a, b, loc=dist.mean, scale=dist.sd)
    if dist.distribution == "choice":
        edges = np.cumsum(dist.probabilities())[:-1]
        return np.asarray(dist.values, dtype=object)[np.searchsorted(edges, u, side="right")]
    raise ValueError(f"no quantile for {dist.distribution}")


def _value(dist, key: str, drawn: dict[str, Any]):
    if key in drawn:
        return drawn[key]
    if dist.distribution == "fixed":
        return float(dist.value)
    return dist.values[0]  # a one-value choice


def sample_members(spec, base) -> list[MemberParams]:
    """The ``spec.members`` members of an ensemble spec, drawn by Latin hypercube with ``spec.seed``;
    ``base`` is the loaded base scenario (its peak, shape and breaches for what the spec does not draw)."""
    from scipy.stats import qmc

    dims = draw_dimensions(spec)
    n = spec.members
    if dims:
        # scramble=True (the default): points uniform inside their slices, not at the slice centres
        u = qmc.LatinHypercube(d=len(dims), rng=np.random.default_rng(spec.seed)).random(n)
    else:
        u = np.zeros((n, 0))
    columns: dict[str, np.ndarray] = {}
    for j, (key, dist) in enumerate(dims):
        columns[key] = (u[:, j] < dist) if key == "breach.occurs" else _quantile(dist, u[:, j])
    p = spec.parameters
    base_peak = float(base.hydrograph.peak_m3s)
    base_crest_h = base.hydrograph.time_of_peak_s / 3600.0
    members = []
    for i in range(n):
        drawn = {k: v[i] for k, v in columns.items()}
        breaches: tuple[dict[str, Any], ...]
        if p.breach is None:
            breaches = tuple({"chainage_m": b.chainage_m, "bank": b.bank, "start_after_crest_h": b.start_h - base_crest_h,
                              "final_width_m": b.final_width_m, "time_to_full_h": b.time_to_full_h}
                             for b in base.breaches)
        elif p.breach.probability == 0.0 or (0.0 < p.breach.probability < 1.0 and not drawn["breach.occurs"]):
            breaches = ()
        else:
            b = p.breach
            breaches = ({"chainage_m": float(_value(b.chainage_m, "breach.chainage_m", drawn)),
                         "bank": str(_value(b.bank, "breach.bank", drawn)),
                         "start_after_crest_h": float(_value(b.start_after_crest_h, "breach.start_after_crest_h", drawn)),
                         "final_width_m": float(_value(b.final_width_m, "breach.final_width_m", drawn)),
                         "time_to_full_h": float(_value(b.time_to_full_h, "breach.time_to_full_h", drawn))},)
        members.append(MemberParams(
            name=member_name(i, n),
            channel_n=None if p.channel_n is None else float(_value(p.channel_n, "channel_n", drawn)),
            floodplain_n=None if p.floodplain_n is None else float(_value(p.floodplain_n, "floodplain_n", drawn)),
            peak_m3s=base_peak if p.peak_m3s is None else float(_value(p.peak_m3s, "peak_m3s", drawn)),
            shape=base.name if p.shape is None else str(_value(p.shape, "shape", drawn)),
            breaches=breaches,
        ))
    for m in members:  # a draw that is not a finite number is a defect of the sampler, never a member
        for v in (m.channel_n, m.floodplain_n, m.peak_m3s):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"ensemble sampling: member {m.name} drew {v!r}")
    return members
