"""``python -m floodtwin.reach build [YAML]``: regenerate the reach GeoPackage and DEM."""

from floodtwin.cli import main

main(["reach", *__import__("sys").argv[1:]])
