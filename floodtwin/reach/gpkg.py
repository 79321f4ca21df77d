"""The one reader of a reach GeoPackage (``floodtwin.reach.gpkg``): which layers it holds, and their
features, as GeoDataFrames (for ``load_reach``) or as plain records (for the preplan's
``ReachTables``, the sub-second CLI path that loads neither pandas nor the terrain).

A GeoPackage is a SQLite file (OGC 12-128r18): the layer list and the records are read with
``sqlite3`` and ``shapely`` only; GeoDataFrames through ``pyogrio``, imported only when asked for.
Every problem is one DataError naming the file (and the layer).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from floodtwin.errors import DataError

__all__ = ["connect", "layer_names", "read_layers"]


@contextmanager
def connect(gpkg: str | Path) -> Iterator[sqlite3.Connection]:
    """A read-only SQLite connection to ``gpkg``; DataError when it is missing or not a GeoPackage."""
    gpkg = Path(gpkg)
    if not gpkg.is_file():
        raise DataError(f"{gpkg}: reach GeoPackage not found (run `floodtwin reach build`)")
    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DataError(f"{gpkg}: cannot open: {exc}") from None
    try:
        yield con
    except sqlite3.Error as exc:
        raise DataError(f"{gpkg}: cannot read as a GeoPackage: {exc}") from None
    finally:
        con.close()


def layer_names(gpkg: str | Path) -> set[str]:
    """Names of the layers (feature and attribute tables) that ``gpkg`` declares in gpkg_contents."""
    with connect(gpkg) as con:
        return {row[0] for row in con.execute("SELECT table_name FROM gpkg_contents")}


def read_layers(gpkg: str | Path, layers: Iterable[str], *, as_frames: bool = False) -> dict[str, Any]:
    """Features of ``layers`` of ``gpkg``: GeoDataFrames (``as_frames``, typed columns and CRS, via
    pyogrio) or lists of records (dicts of the attribute columns with the shapely geometry under
    ``_geom``). A layer that is not there is a DataError."""
    gpkg = Path(gpkg)
    layers = list(layers)
    present = layer_names(gpkg)
    for layer in layers:
        if layer not in present:
            raise DataError(f"{gpkg}: layer '{layer}' is missing")
    if as_frames:
        import pyogrio

        return {layer: pyogrio.read_dataframe(gpkg, layer=layer) for layer in layers}
    import shapely

    out = {}
    with connect(gpkg) as con:
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        for layer in layers:
            if layer not in geom_cols:
                raise DataError(f"{gpkg}: layer '{layer}' has no geometry (an attribute table)")
            cur = con.execute(f'SELECT * FROM "{layer}"')
            cols = [d[0] for d in cur.description]
            g = cols.index(geom_cols[layer])
            rows = cur.fetchall()
            geoms = shapely.from_wkb([_wkb(r[g], gpkg, layer) for r in rows])
            out[layer] = [{**{c: v for c, v in zip(cols, r) if c not in (cols[g], "fid")}, "_geom": geom}
                          for r, geom in zip(rows, geoms)]
    return out


def _wkb(blob: bytes, gpkg: Path, layer: str) -> bytes:
    """The WKB inside a GeoPackage geometry blob (OGC 12-128r18 §2.1.3: header, envelope, WKB)."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        raise DataError(f"{gpkg}: layer '{layer}': a geometry is not a GeoPackage geometry blob")
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((blob[3] >> 1) & 0x07)
    if envelope is None:
        raise DataError(f"{gpkg}: layer '{layer}': invalid envelope code in a geometry blob")
    return bytes(blob[8 + envelope:])
