"""The alert-run configuration (``alerts.yaml``): the database, the dispatch and preplan files,
the feeds (stations, sources, quality limits), the forecast and the CAP messages. Relative paths
are read from the YAML file's folder. ``data/config/alerts.example.yaml`` is the annotated example."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat

from floodtwin.config import StrictModel, load_yaml
from floodtwin.feeds import FeedsConfig

__all__ = ["CapSettings", "ForecastSettings", "AlertsConfig", "load_alerts_config"]


class CapSettings(StrictModel):
    """CAP 1.2 messages: where they are written, who sends them, their status (``Exercise`` for
    drills), and the radius of the area drawn around each flooded village [m] (the villages layer
    holds points)."""

    enabled: bool = True
    folder: Path = Path("cap")
    sender: str = "flood-office.huayuankou.zhengzhou"
    sender_name: str = "花园口镇防汛抗旱指挥部 Huayuankou town flood command"
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    village_radius_m: PositiveFloat = 400.0
    expires_h: PositiveFloat = 24.0


class ForecastSettings(StrictModel):
    """The routing forecast (floodtwin.forecast): on or off, the daily bulletin it is fitted on
    (default: the shipped one), and how old an upstream value may be to be routed [h]."""

    enabled: bool = True
    daily_file: Path | None = None
    upstream_max_age_h: PositiveFloat = 30.0


class AlertsConfig(StrictModel):
    """What ``floodtwin alert-run --config alerts.yaml`` reads."""

    database: Path
    dispatch_config: Path | None = None
    preplan: Path | None = None
    #: the run lock (default: the database's path + ".lock")
    lock_file: Path | None = None
    #: who gets the "data stale" notice (default: the town command of the dispatch file)
    duty_officer: str | None = None
    #: a stale feed is told again after this many hours while it stays stale
    stale_notice_every_h: PositiveFloat = 6.0
    #: deliver the queued notifications at the end of each run
    deliver: bool = True
    feeds: FeedsConfig
    forecast: ForecastSettings = ForecastSettings()
    cap: CapSettings = CapSettings()
    actor: str = Field("alerts", pattern=r"^alerts$")

    def resolved(self, base: Path) -> "AlertsConfig":
        """Self with every relative path read from ``base`` (the YAML file's folder)."""
        def r(p: Path | None) -> Path | None:
            return None if p is None else (p if p.is_absolute() else base / p)

        sources = [s.model_copy(update={"path": r(s.path), "ca_file": r(s.ca_file)}) for s in self.feeds.sources]
        return self.model_copy(update={
            "database": r(self.database), "dispatch_config": r(self.dispatch_config), "preplan": r(self.preplan),
            "lock_file": r(self.lock_file) or Path(f"{r(self.database)}.lock"),
            "feeds": self.feeds.model_copy(update={"sources": sources}),
            "forecast": self.forecast.model_copy(update={"daily_file": r(self.forecast.daily_file)}),
            "cap": self.cap.model_copy(update={"folder": r(self.cap.folder)})})


def load_alerts_config(path: str | Path) -> AlertsConfig:
    """Read and validate ``alerts.yaml``; ConfigError naming file, line and key otherwise."""
    path = Path(path)
    return load_yaml(path, AlertsConfig, kind="alert configuration").resolved(path.resolve().parent)
