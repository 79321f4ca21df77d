"""The reach: parameters (YAML), the built GeoPackage layers and DEM, and their validation.

``load_reach`` and ``Reach`` are the public entry points; ``build_reach`` regenerates the
GeoPackage and DEM from data/dikes/<reach>.yaml.
"""

from floodtwin.reach.load import LAYER_SCHEMAS, GaugeRating, Reach, load_reach, read_gauge_rating, validate_layers

__all__ = ["LAYER_SCHEMAS", "GaugeRating", "Reach", "build_reach", "load_reach", "read_gauge_rating", "validate_layers"]


def build_reach(*args, **kwargs):
    """See :func:`floodtwin.reach.build.build_reach`."""
    from floodtwin.reach.build import build_reach as _build

    return _build(*args, **kwargs)
