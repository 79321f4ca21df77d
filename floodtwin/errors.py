"""Error types of floodtwin.

Every problem caused by input (a file, a parameter, a feed, a database) is raised as a
:class:`FloodtwinError` subclass whose message is one line naming *what* is wrong and *where*.
The CLI prints that line in red and exits with the class's ``exit_code``; library users catch
the class they care about.
"""

from __future__ import annotations


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


class StaleDataError(DataError):
    """Observations are older than the allowed age: decisions must not be taken on them."""

    exit_code = 3


class FeedError(FloodtwinError):
    """A live feed could not be read or returned something that is not a valid observation."""

    exit_code = 4
