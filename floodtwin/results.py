"""Result Datasets on disk: the one reader and writer (``write_result`` / ``read_result``).

Every result that floodtwin writes (the reach DEM, 1D and 2D runs, the flood-map library) goes
through here, so the files share one format: NetCDF4 with CF attributes from the one variable table
(:func:`floodtwin.variables.annotate`), compressed floating-point variables with NaN as their fill
value, and run metadata (``Conventions``, ``source``, a ``history`` line naming the floodtwin
version and the UTC time of writing).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import DataError

__all__ = ["CONVENTIONS", "encoding_for", "read_result", "write_result"]

#: the CF version whose rules the files follow (checked in the tests with the IOOS compliance checker)
CONVENTIONS = "CF-1.8"


def encoding_for(ds: Any) -> dict[str, dict[str, Any]]:
    """NetCDF encoding of ``ds``: floating-point data variables zlib-compressed (level 4) with NaN as
    their _FillValue; coordinates without a fill value (CF: coordinates must not have missing values).
    Values keep their dtype: float64 stays float64 (elevations near 90 m need millimetres)."""
    enc: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        if np.issubdtype(var.dtype, np.floating):
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": np.nan}
    for name, var in ds.coords.items():
        if np.issubdtype(var.dtype, np.floating):
            enc[name] = {"_FillValue": None}
    return enc


def write_result(ds: Any, path: str | Path, *, source: str | None = None, start: datetime | None = None) -> Path:
    """Write the Dataset ``ds`` to ``path`` (NetCDF4) with CF attributes and run metadata; return the path.

    ``source`` says what produced the data (default: the Dataset's own ``source`` attribute, else
    "floodtwin"). A ``history`` line is appended, never replacing what the Dataset already holds.
    ``start`` (a time-zone-aware datetime) is the moment of t = 0: the ``time`` coordinate (seconds
    since the start of the run) is then written as a CF time axis, "seconds since <start>". Without
    it the time stays elapsed seconds ("s"), which CF (§4.4) does not count as a time axis: a model
    run on a design hydrograph has no date. ``ds`` itself is not changed; an unwritable path is a
    DataError.
    """
    from floodtwin import __version__
    from floodtwin.variables import annotate

    out = annotate(ds.copy())
    if start is not None and "time" in out.coords:
        if start.tzinfo is None:
            raise DataError("write_result: start must be time-zone aware (UTC offset known)")
        epoch = start.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        out["time"].attrs.update({"units": f"seconds since {epoch}", "calendar": "standard"})
    for var in list(out.variables.values()):
        mapping = var.attrs.get("grid_mapping")
        if mapping in out.variables:  # CF §3.3: name the grid-mapping variable too
            out[mapping].attrs.setdefault("long_name", "coordinate reference system")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = f"{stamp} written by floodtwin {__version__} (floodtwin.results.write_result)"
    history = out.attrs.get("history")
    out.attrs.update({
        "Conventions": CONVENTIONS,
        "source": source or out.attrs.get("source") or "floodtwin",
        "history": f"{history}\n{line}" if history else line,
        "floodtwin_version": __version__,
    })
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out.to_netcdf(path, encoding=encoding_for(out), engine="netcdf4")
    except OSError as exc:
        raise DataError(f"{path}: cannot write the result ({exc.strerror or exc})") from None
    return path


def read_result(path: str | Path, *, variable: str | None = None) -> Any:
    """Read a result file written by :func:`write_result` into memory (the file is closed again).

    With ``variable``, return that DataArray only (a DataError names the file when it is missing);
    a file that is not NetCDF is a DataError too.
    """
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: result file not found")
    try:
        # times stay seconds since the start of the run, as written (not decoded to dates)
        with xr.open_dataset(path, engine="netcdf4", decode_times=False) as ds:
            if variable is not None and variable not in ds:
                raise DataError(f"{path.name}: no '{variable}' variable in the file")
            return (ds[variable] if variable is not None else ds).load()
    except DataError:
        raise
    except Exception as exc:  # netCDF4/xarray raise OSError, ValueError, KeyError... for a bad file
        raise DataError(f"{path.name}: cannot read the result: {str(exc).splitlines()[0]}") from None
