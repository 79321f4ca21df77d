"""The reach: parameters (YAML), the built GeoPackage layers and DEM, and their validation.

``load_reach`` and ``Reach`` are the public entry points; ``build_reach`` regenerates the
GeoPackage and DEM from data/dikes/<reach>.yaml. Modules: ``params`` (the YAML), ``terrain`` (the
DEM from published geometry), ``build`` (layers and DEM files), ``gpkg`` (the one GeoPackage
reader), ``load`` (load and validate), ``map`` (the reach PNG), ``summary`` (the inventory).
"""

from floodtwin.reach.load import LAYER_SCHEMAS, GaugeRating, Reach, load_reach, read_gauge_rating, validate_layers

__all__ = ["LAYER_SCHEMAS", "GaugeRating", "Reach", "build_reach", "load_reach", "read_gauge_rating", "validate_layers"]


def build_reach(*args, **kwargs):
    """See :func:`floodtwin.reach.build.build_reach`."""
    from floodtwin.reach.build import build_reach as _build

    return _build(*args, **kwargs)
