"""What makes the HTML map work offline (``floodtwin.maps.offline``): the vendored Leaflet, inlined into
the page (its CSS images as data URIs), folium's CDN links stripped, and the check that the written page
loads nothing from the network.

Leaflet 1.9.4 (BSD-2-Clause, ``static/leaflet/LICENSE.txt``) is the npm package's ``dist/`` unchanged.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources

from floodtwin.errors import DataError

__all__ = ["LEAFLET_VERSION", "external_resources", "leaflet_inline", "require_offline", "strip_cdn"]

LEAFLET_VERSION = "1.9.4"

# resources a page fetches: script and image sources, stylesheet links, CSS url(...) and @import
_FETCHES = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?([^"'\s>]+)"""
    r"""|<(?:img|iframe|source|embed)\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)"""
    r"""|url\(\s*["']?((?:https?:)?//[^"')\s]+)"""
    r"""|@import\s+["']((?:https?:)?//[^"']+)""",
    re.IGNORECASE)


def _static(name: str) -> bytes:
    return resources.files("floodtwin.maps").joinpath("static", "leaflet", name).read_bytes()


@cache
def leaflet_inline() -> str:
    """``<style>`` and ``<script>`` of the vendored Leaflet, for the page's head; nothing left to fetch."""
    css = _static("leaflet.css").decode("utf-8")

    def data_uri(match: re.Match) -> str:
        png = base64.b64encode(_static(match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{png})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    js = _static("leaflet.js").decode("utf-8")
    return f"<style>/* Leaflet {LEAFLET_VERSION}, BSD-2-Clause */\n{css}</style>\n<script>{js}</script>"


def strip_cdn(root) -> None:
    """Drop the CDN scripts and stylesheets folium's elements would link (jQuery, Bootstrap, Leaflet,
    awesome-markers): the page carries its own Leaflet and needs none of the rest."""
    stack = [root]
    while stack:
        el = stack.pop()
        if hasattr(el, "default_js"):
            el.default_js = []
            el.default_css = []
        stack.extend(getattr(el, "_children", {}).values())


def external_resources(html: str) -> list[str]:
    """The resources ``html`` would fetch from the network (http, https or protocol-relative): must be none."""
    found = []
    for groups in _FETCHES.findall(html):
        url = next(g for g in groups if g)
        if re.match(r"(?:https?:)?//", url, re.IGNORECASE):
            found.append(url)
    return found


def require_offline(html: str) -> str:
    """``html`` if it fetches nothing from the network, else a DataError naming the first URL."""
    urls = external_resources(html)
    if urls:
        raise DataError(f"the HTML map would load {len(urls)} resource(s) from the network, first {urls[0]}")
    return html
