"""Field reports: patrol rounds and dike dangers (险情) from the front line, onto the board and the map
(a floor above dispatch: a report becomes tasks on the board through its public API).

A report is validated against the reach (kind, severity, grid, works, spur, location); an accepted
danger report puts its response tasks on the board through the same transaction (a leak sets off
emergency plugging at that chainage, root-stone loss riprap at that spur, ...: the table is
``data/config/dangers.yaml``) and notifies the grid leader and the town command. A rejected report
is stored too, with the reason: nothing received is lost. :func:`active_major_dangers` feeds the
preplan's tier trigger "major danger at a works".

Location forms: ``lon``/``lat`` (WGS 84), ``works_id`` + ``spur`` (id "HYK-090" or number), or
``dike_id`` + ``chainage`` (metres or a chainage post "7+350"); a works or grid is derived from
the place when it is not given.

Parts: ``dangers`` (the danger table and the tasks of a danger), ``place`` (locating a report on
the reach), ``receive`` (receive, import, list, resolve; the active major dangers), ``layer``
(the GeoJSON map layer).
"""

from __future__ import annotations

from floodtwin.reports.dangers import DangerTable, danger_instructions, load_dangers
from floodtwin.reports.layer import export_geojson
from floodtwin.reports.place import Place, ReachIndex, Rejected, parse_chainage, post_label
from floodtwin.reports.receive import (REPORT_KINDS, active_major_dangers, add_report, import_jsonl, list_reports,
                                       report_id_for, resolve_report)

__all__ = ["DangerTable", "danger_instructions", "load_dangers", "export_geojson", "Place", "ReachIndex",
           "Rejected", "parse_chainage", "post_label", "REPORT_KINDS", "active_major_dangers", "add_report",
           "import_jsonl", "list_reports", "report_id_for", "resolve_report"]
