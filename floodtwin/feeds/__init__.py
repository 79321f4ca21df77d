"""Hydrology feeds: formats, sources and quality checks -> one observation table.

``read_feeds(cfg)`` fetches every configured source (file or HTTP(S); formats: SL 323
``ST_RIVER_R`` CSV/JSON, OGC WaterML 2.0, OGC SensorThings with paging, plain CSV) and returns, per
source, the observations in one long table (tz-aware UTC times, m³/s and m, a ``qc`` column and the
reason of every rejection); ``check_observations`` applies the quality rules against the stored
history; ``station_status`` gives the value the run may use at each station, its age and whether
it is stale or a fall-back. See docs/feeds.md.
"""

from __future__ import annotations

from floodtwin.feeds.fetch import FeedResult, fetch_bytes, read_feeds, read_source
from floodtwin.feeds.formats import PARSERS, normalise, parse_time
from floodtwin.feeds.model import (OBS_COLUMNS, UNIT_FACTORS, VARIABLE_UNITS, AuthHeader, FeedsConfig, QualityLimits,
                                   SourceSpec, StationSpec, empty_observations)
from floodtwin.feeds.quality import RULES, StationStatus, check_observations, require_fresh, station_status

__all__ = ["OBS_COLUMNS", "UNIT_FACTORS", "VARIABLE_UNITS", "AuthHeader", "FeedsConfig", "QualityLimits",
           "SourceSpec", "StationSpec", "empty_observations", "PARSERS", "normalise", "parse_time", "FeedResult",
           "fetch_bytes", "read_feeds", "read_source", "RULES", "StationStatus", "check_observations",
           "station_status", "require_fresh"]
