"""The flood-map library: full coupled runs precomputed per discharge, answered instantly by interpolation.

* :mod:`~floodtwin.library.build`: one member per discharge on Dask workers (``floodtwin.batch``),
  resumable, then one file;
* :mod:`~floodtwin.library.store`: a member's file and the library NetCDF (discharge as a dimension);
* :mod:`~floodtwin.library.inputs`: the hashes of what it was built from, and the stale check;
* :mod:`~floodtwin.library.lookup`: the answer at any discharge in range (water level interpolated).

Nothing heavy is imported here: the quick answer opens a library with netCDF4 and numpy only.
"""

from floodtwin.library.inputs import default_library_path, input_hashes, library_attrs, stale_reasons
from floodtwin.library.lookup import Library, LibraryAnswer, StaleLibraryError, open_library

__all__ = ["Library", "LibraryAnswer", "StaleLibraryError", "default_library_path", "input_hashes", "library_attrs",
           "open_library", "stale_reasons"]
