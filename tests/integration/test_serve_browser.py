"""The command-centre screen in a real browser: ``floodtwin serve`` on a free loopback port over a small
real library (100 m grid, a 12 h wave, members at 20,000 and 24,000 m³/s), driven by headless Chromium
through selenium and Debian's chromium-driver: the page loads with no console message, 22,000 m³/s turns
the banner red (by itself, at once: the 0.5 s target is timed in benchmarks/bench_serve.py) and lists the
plan's ~300 tasks, a task acknowledged from the CLI shows as
acknowledged on the page within 2 s, and the screenshots are not blank."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("selenium")
pytest.importorskip("distributed")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMEDRIVER is None or shutil.which("chromium") is None,
                                reason="chromium and chromium-driver are not installed (make system-packages)")

from screen_server import build_high_library, serve_env, start_server  # noqa: E402

TOKEN = "screen-test-token-0123"


_env = serve_env


def _cli(*args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "floodtwin", *args], capture_output=True, text=True, env=_env(),
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="session")
def high_library(tmp_path_factory) -> Path:
    return build_high_library(tmp_path_factory.mktemp("highlib") / "high.nc")


@pytest.fixture(scope="module")
def server(high_library, tmp_path_factory):
    db = tmp_path_factory.mktemp("screen") / "floodtwin.db"
    proc, base = start_server(high_library, db, token=TOKEN)
    yield base, db
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000", "--hide-scrollbars",
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def wait_for(driver, script: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s} s: {script}")


def test_page_loads_without_console_messages(server, browser, tmp_path):
    base, _ = server
    browser.get(base + "/")
    wait_for(browser, "return document.body.getAttribute('data-answered')", 20)
    assert "20000" == browser.execute_script("return document.body.getAttribute('data-answered')")
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert logs == [], logs
    layers = browser.execute_script("return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays "
                                    "span')).map(e => e.textContent.trim())")
    for name in ("淹没 inundation", "网格 grids", "村庄 villages", "物资料场 depots", "智能石头 stones",
                 "值班人员 staff on duty", "重点防守点 key points", "险工/控导 works"):
        assert name in layers, layers
    assert browser.find_element("id", "farmers").text.count("\n") >= 6  # six villages' farmers by category


def test_22000_turns_the_banner_red_and_lists_the_tasks(server, browser, tmp_path):
    base, _ = server
    browser.get(base + "/")
    wait_for(browser, "return document.body.getAttribute('data-answered')", 20)
    # a MutationObserver stamps the moment the banner turns red; the slider is moved as a person would
    ms = browser.execute_async_script("""
        var done = arguments[arguments.length - 1];
        var b = document.getElementById('banner'), t0 = performance.now();
        new MutationObserver(function () { if (b.className.indexOf('red') >= 0) done(performance.now() - t0); })
            .observe(b, {attributes: true});
        var s = document.getElementById('q-slider'); s.value = 22000;
        s.dispatchEvent(new Event('input'));
    """)
    # the 0.5 s target is measured by benchmarks/bench_serve.py (a timed test on a shared machine is
    # flaky); here: the banner turns red by itself, without a reload, and soon
    assert ms < 2000, f"{ms:.0f} ms"
    wait_for(browser, "return document.body.getAttribute('data-answered') === '22000'")
    banner = browser.find_element("id", "banner").text
    assert "Level I" in banner and "RED" in banner and "22,000" in banner, banner
    answer = json.loads(urllib.request.urlopen(base + "/api/answer?discharge=22000").read())
    listed = browser.execute_script("return document.querySelectorAll('#todo li.task').length")
    assert listed == answer["task_count"] and 250 <= listed <= 350, (listed, answer["task_count"])
    groups = browser.execute_script("return document.querySelectorAll('#todo .group').length")
    assert groups == len(answer["tasks_by_grid"]) > 60  # grouped by grid and owner
    flooded = browser.execute_script("return document.querySelectorAll('#attention tr.flooded').length")
    assert flooded == sum(v["flooded"] for v in answer["villages"])
    wait_for(browser, "return document.body.getAttribute('data-flood-drawn') === '22000'")
    shot = tmp_path / "screen-22000.png"
    browser.save_screenshot(str(shot))
    _check_screenshot(shot)
    keep = os.environ.get("FLOODTWIN_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)


def _check_screenshot(path: Path) -> None:
    from matplotlib.image import imread

    img = imread(path)[..., :3]
    assert img.std() > 0.08, "blank screenshot"
    top = img[:30]  # the banner: red
    assert ((top[..., 0] > 0.6) & (top[..., 1] < 0.3) & (top[..., 2] < 0.3)).mean() > 0.5
    h, w = img.shape[:2]
    box = img[int(0.1 * h):int(0.55 * h), int(0.22 * w):int(0.76 * w)]  # the map
    r, g, b = box[..., 0], box[..., 1], box[..., 2]
    assert ((b > r + 0.15) & (b > g + 0.05)).mean() > 0.03  # the inundation overlay is drawn over the floodplain


def test_a_task_acknowledged_from_the_cli_shows_on_the_page_within_2_s(server, browser):
    base, db = server
    _cli("tasks", "activate", "--discharge", "22000", "--db", str(db), "--no-deliver")
    browser.get(base + "/")
    wait_for(browser, "return document.querySelectorAll('#board tbody tr').length > 250", 15)
    tasks = json.loads(_cli("tasks", "list", "--db", str(db), "--json").stdout)
    task = next(t for t in tasks if t["state"] == "dispatched" and t["assignees"])
    row = f"#board tr[data-key='{task['key']}'] td.state"
    assert browser.execute_script(f"return document.querySelector(\"{row}\").textContent") == "dispatched"
    _cli("tasks", "ack", task["key"], "--actor", task["assignees"][0], "--db", str(db), "--no-deliver")
    t0 = time.monotonic()
    wait_for(browser, f"return document.querySelector(\"{row}\").textContent === 'acknowledged'", 2.0)
    assert time.monotonic() - t0 <= 2.0
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert logs == [], logs
