"""The feed configuration (stations, sources, units, quality limits) and the one observation table.

Every format reader returns the same long table (:data:`OBS_COLUMNS`): one row per value received,
times tz-aware UTC, the value in the canonical unit (m³/s, m) next to what was received, and a
``qc`` column ("ok", "suspect", "rejected") with the ``reason``. Rows are never dropped: a rejected
value stays in the table (and in the database) with its reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, PositiveFloat, model_validator

from floodtwin.config import StrictModel
from floodtwin.errors import ConfigError

__all__ = ["OBS_COLUMNS", "VARIABLE_UNITS", "UNIT_FACTORS", "StationSpec", "AuthHeader", "SourceSpec",
           "QualityLimits", "FeedsConfig", "empty_observations"]

#: the canonical observation table (R11 of STYLE.md)
OBS_COLUMNS = ["value_time", "station_id", "variable", "value", "units", "raw_value", "raw_units", "qc",
               "reason", "source"]

#: canonical unit of each variable (UDUNITS spelling, as variables.py)
VARIABLE_UNITS = {"discharge": "m3 s-1", "stage": "m"}

#: declared unit -> (variable, factor to the canonical unit)
UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "m3/s": ("discharge", 1.0), "m3 s-1": ("discharge", 1.0),
    "1000 m3/s": ("discharge", 1000.0),
    "L/s": ("discharge", 1e-3), "l/s": ("discharge", 1e-3),
    "m": ("stage", 1.0), "cm": ("stage", 0.01),
}

Format = Literal["sl323_csv", "sl323_json", "waterml2", "sensorthings", "csv"]


class StationSpec(StrictModel):
    """One station of the feeds: floodtwin's id, its SL 323 code (STCD) and names; ``role``
    "target" is the preplan's reference station (Huayuankou), "upstream" the routed inflows;
    ``min_discharge_m3s``/``max_discharge_m3s`` the plausible range (outside: rejected)."""

    id: str
    stcd: str
    name_zh: str
    name_en: str
    role: Literal["target", "upstream"]
    min_discharge_m3s: float = Field(0.0, ge=0.0)
    max_discharge_m3s: PositiveFloat = 30000.0
    #: largest plausible change of discharge per hour (m³/s per h): beyond it a value is a spike
    max_rate_m3s_per_h: PositiveFloat = 400.0


class AuthHeader(StrictModel):
    """An HTTP header sent with every request; its value is read from the environment variable
    ``env`` (a token never sits in the YAML file)."""

    name: str = "Authorization"
    env: str
    prefix: str = ""

    def value(self) -> str:
        """The header value; ConfigError when the environment variable is not set."""
        raw = os.environ.get(self.env)
        if not raw:
            raise ConfigError(f"auth header {self.name}: environment variable {self.env} is not set")
        return f"{self.prefix}{raw}"


class SourceSpec(StrictModel):
    """One feed: a file ``path`` or an ``url`` (http/https), its ``format``, the units it sends
    (``discharge_units``, ``stage_units``), the time zone of times without one (SL 323 tables
    keep Beijing time), and the HTTP limits: ``timeout_s`` per request, ``retries`` with a backoff
    of ``backoff_s`` × 2^k, ``max_bytes`` of one answer, ``max_pages`` of SensorThings paging."""

    name: str
    format: Format
    url: str | None = None
    path: Path | None = None
    stations: list[str] | None = None  # which stations this feed gives (default: all it contains)
    discharge_units: str = "m3/s"
    stage_units: str = "m"
    naive_utc_offset_h: float = 8.0
    timeout_s: PositiveFloat = 10.0
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0.0)
    max_bytes: int = Field(20_000_000, gt=0)
    max_pages: int = Field(50, gt=0)
    auth: AuthHeader | None = None
    verify_tls: bool = True
    #: a CA bundle (PEM) to verify the server with, e.g. the feed provider's own CA (default: the system's)
    ca_file: Path | None = None
    #: SensorThings: the station and variable of a single Datastream's Observations URL (else each
    #: observation must carry its expanded Datastream with Thing, ObservedProperty and unit)
    station: str | None = None
    variable: Literal["discharge", "stage"] | None = None

    @model_validator(mode="after")
    def _one_place(self) -> "SourceSpec":
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url and path")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r}: expected http:// or https://")
        for key in ("discharge_units", "stage_units"):
            unit = getattr(self, key)
            want = "discharge" if key.startswith("discharge") else "stage"
            if UNIT_FACTORS.get(unit, ("", 0))[0] != want:
                known = ", ".join(k for k, v in UNIT_FACTORS.items() if v[0] == want)
                raise ValueError(f"{key} {unit!r}: expected one of {known}")
        return self


class QualityLimits(StrictModel):
    """When a value is too old, a gap too long, and how the run treats missing data: the newest
    value of a station older than ``max_age_h`` is stale; two values further apart than
    ``max_gap_h`` leave a gap; a value between 1/``unit_ratio`` and ``unit_ratio`` times off the
    last good value of the station (by a factor near 1,000) is a unit mistake."""

    max_age_h: PositiveFloat = 30.0
    max_gap_h: PositiveFloat = 30.0
    unit_ratio: PositiveFloat = 200.0


class FeedsConfig(StrictModel):
    """The ``feeds`` section of the alert configuration."""

    stations: list[StationSpec]
    sources: list[SourceSpec]
    quality: QualityLimits = QualityLimits()
    user_agent: str = "floodtwin-alert-run/0.1 (+flood office, Huayuankou)"

    @model_validator(mode="after")
    def _stations_known(self) -> "FeedsConfig":
        ids = [s.id for s in self.stations]
        if len(set(ids)) != len(ids):
            raise ValueError("stations: the same id twice")
        if sum(s.role == "target" for s in self.stations) != 1:
            raise ValueError("stations: exactly one station must have role: target (Huayuankou)")
        for src in self.sources:
            for sid in [*(src.stations or ()), *([src.station] if src.station else [])]:
                if sid not in ids:
                    raise ValueError(f"source {src.name}: unknown station {sid!r} (stations: {', '.join(ids)})")
        if len({s.name for s in self.sources}) != len(self.sources):
            raise ValueError("sources: the same name twice")
        return self

    @property
    def target(self) -> StationSpec:
        return next(s for s in self.stations if s.role == "target")

    def station(self, station_id: str) -> StationSpec:
        return next(s for s in self.stations if s.id == station_id)

    def resolve(self, code: str) -> str | None:
        """floodtwin's station id for a code or name a feed uses (STCD, id, English or Chinese
        name, case-insensitive), or None for a station the configuration does not know."""
        key = str(code).strip().lower()
        for s in self.stations:
            if key in (s.stcd.lower(), s.id.lower(), s.name_en.lower(), s.name_zh):
                return s.id
        return None


def empty_observations() -> pd.DataFrame:
    """An observation table with no rows and the full schema."""
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in OBS_COLUMNS})
    df["value_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("value", "raw_value"):
        df[c] = pd.Series(dtype="float64")
    return df
