"""Result maps of a flood scenario run (``floodtwin.maps``): a PNG for the wall and the report
(:func:`render_png`) and an offline HTML map with toggleable layers and pop-ups (:func:`render_html`).

Both take the run's flood Dataset on the reach grid and its layers (villages, grids, dikes, works); the
look (depth bins, hazard and freeboard classes) is in :mod:`floodtwin.maps.style`. docs/maps.md.
"""

from floodtwin.maps.html import render_html
from floodtwin.maps.png import render_png

__all__ = ["render_html", "render_png"]
