"""Error types of floodtwin.

Every problem caused by input (a file, a parameter, a feed, a database) is raised as a
:class:`FloodtwinError` subclass whose message is one line naming *what* is wrong and *where*.
The CLI prints that line in red and exits with the class's ``exit_code``; library users catch
the class they care about.
"""

from __future__ import annotations

__all__ = ["FloodtwinError", "InputError", "ConfigError", "DataError", "FeedError", "StaleDataError", "ModelError",
           "MAX_DISCHARGE_M3S", "require_discharge_m3s"]


class FloodtwinError(Exception):
    """Base class: a one-line, user-facing message; ``exit_code`` is what the CLI returns."""

    exit_code: int = 2

    def __init__(self, message: str):
        # One line only: a newline would break the CLI's "one clear line" contract.
        super().__init__(" ".join(str(message).split("\n")))


class InputError(FloodtwinError):
    """A parameter or argument is invalid (shape, range, unit, missing value)."""


class ConfigError(FloodtwinError):
    """A configuration file (YAML scenario, preplan, alert config) is invalid."""


class DataError(FloodtwinError):
    """A data file (GeoPackage layer, DEM, CSV, database) is missing, malformed or inconsistent."""


class FeedError(FloodtwinError):
    """A live feed or the MQTT broker could not be read, or returned something that is not a valid
    observation."""

    exit_code = 4


class StaleDataError(FeedError):
    """A station's newest good value is older than its limit, or there is none: the data cannot
    be acted on as current (the alert run holds the level and warns: exit 1)."""

    exit_code = 1


class ModelError(FloodtwinError):
    """A model run whose result fails a physical sanity check (not converged, not finite, outside
    the model's tables or range, volume not balanced): an error with its reason, never a level, a
    map or a task."""

    exit_code = 3


#: Largest discharge accepted anywhere (m³/s): about four times the largest flood measured at
#: Huayuankou (22,300 m³/s, 1958). Above it a number is a typo or a unit mistake, not a flow;
#: each model checks its own, narrower valid range on top of this.
MAX_DISCHARGE_M3S = 100_000.0


def require_discharge_m3s(value: object, *, name: str = "discharge", positive: bool = False) -> float:
    """``value`` as a discharge in m³/s: a finite number in [0, MAX_DISCHARGE_M3S] (> 0 with
    ``positive``: the hydraulic models have no dry channel); otherwise an InputError naming ``name``."""
    if isinstance(value, bool):
        raise InputError(f"{name} {value!r}: not a number of m³/s")
    try:
        q = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r}: not a number of m³/s") from None
    low = "> 0" if positive else ">= 0"
    if q != q or q in (float("inf"), float("-inf")) or (q <= 0.0 if positive else q < 0.0) or q > MAX_DISCHARGE_M3S:
        raise InputError(f"{name} {q!r} m³/s: expected a finite number {low} and at most "
                         f"{MAX_DISCHARGE_M3S:,.0f} m³/s")
    return q
