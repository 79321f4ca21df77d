"""The offline HTML map in a real browser: headless Chromium (Debian package ``chromium``, installed by
``make test``) opens the written page with the network shut off, and the page loads with no console
message, lists every layer in its layer control, draws its overlays and vectors, and its pop-ups say
what the duty officer needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make system-packages installs it)")

TITLE = "花园口 Huayuankou test flood, 92.3 m at the upstream end"

# after load: every GeoJSON layer's first pop-up, rendered as Leaflet would on a click, into <pre id=probe>
PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var out = [];
  Object.keys(window).forEach(function (k) {
    var v = window[k];
    if (!(v instanceof L.GeoJSON)) return;
    var first = null;
    v.eachLayer(function (l) { if (!first) first = l; });
    var p = first && (first.getPopup() || v.getPopup());
    if (!p) return;
    var c = typeof p.getContent() === 'function' ? p.getContent()(first) : p.getContent();
    out.push(typeof c === 'string' ? c : c.innerHTML);
  });
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 0); });
</script>"""


def _chromium(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``url`` with its own profile, every host name unresolvable (offline), console
    messages on stderr."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=8000", "--window-size=1400,900", *args, url]
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def page(reach, tmp_path_factory):
    from floodtwin.maps import render_html
    from floodtwin.maps.example import example_inputs, planar_max_depth

    flood, layers = example_inputs(reach, planar_max_depth(reach, 92.3))
    folder = tmp_path_factory.mktemp("html")
    return render_html(flood, layers, reach, title=TITLE, path=folder / "map.html"), layers


def test_console_catches_a_broken_page(tmp_path):
    """The console check sees errors: a page with one fails it (so a clean result means clean)."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>nope();</script></body></html>")
    run = _chromium(tmp_path, bad.as_uri(), "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in _console(run.stderr))


def test_page_loads_offline_with_every_layer_and_no_console_message(page, tmp_path):
    from floodtwin.maps.html import LAYER_NAMES

    path, _ = page
    run = _chromium(tmp_path, path.as_uri(), "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console(run.stderr) == []
    dom = run.stdout
    listed = re.findall(r'class="leaflet-control-layers-selector"[^>]*><span> ([^<]+)</span>', dom)
    assert listed == list(LAYER_NAMES.values())
    # hillshade and depth shown, hazard off until ticked
    assert dom.count('class="leaflet-image-layer') == 2
    from floodtwin.reach import load_reach

    stones = len(load_reach("huayuankou").stones)
    assert dom.count("leaflet-interactive") > stones  # the stones alone are that many vector marks
    assert TITLE in dom


def test_popups_in_the_browser(page, tmp_path):
    path, layers = page
    probe = path.with_name("probe.html")
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, probe.as_uri(), "--dump-dom")
    assert _console(run.stderr) == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-1000:]
    from html import unescape

    popups = json.loads(unescape(found.group(1)))
    text = "\n".join(popups)
    v = layers["villages"].iloc[0]
    for part in ("special attention", "households", "livestock", "evacuation point", v.evacuation_point,
                 "tasks (", "freeboard", "max speed at the spur heads", "sandbags"):
        assert part in text, part


def test_screenshot_shows_the_map(page, tmp_path):
    from matplotlib.image import imread

    path, _ = page
    shot = tmp_path / "shot.png"
    run = _chromium(tmp_path, path.as_uri(), f"--screenshot={shot}")
    assert shot.exists(), run.stderr[-2000:]
    img = imread(shot)[..., :3]
    assert img.shape[:2] == (900, 1400)
    assert img.std() > 0.08  # not a blank page
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    assert ((b > r + 0.12) & (b > g + 0.02)).mean() > 0.01  # the depth overlay is drawn
