"""The command-centre screen: a local web application over the flood-map library, the board and sensors.

:func:`~floodtwin.serve.app.create_app` builds the ASGI app (Starlette) over a
:class:`~floodtwin.serve.screen.Screen`; ``floodtwin serve`` runs it under uvicorn on 127.0.0.1.
docs/screen.md describes the page and the API.
"""

from floodtwin.serve.app import create_app
from floodtwin.serve.screen import Screen

__all__ = ["Screen", "create_app"]
