"""`floodtwin calibrate` and `floodtwin rating` as subprocesses on the real reach and the real YRCC data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "yrcc" / "daily_lower_river_2001_2019.csv"
pytestmark = pytest.mark.skipif(not (REPO / "data" / "dikes" / "huayuankou.gpkg").is_file(), reason="reach not built")


def _run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "floodtwin", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> tuple[Path, dict]:
    """One calibration (fit 2018, validate 2019) into a temporary file."""
    out = tmp_path_factory.mktemp("cal") / "huayuankou.calibration.yaml"
    p = _run("calibrate", "--station", "Huayuankou", "--years", "2018", "--validate", "2019", "--output", str(out),
             "--json", "--data", str(DATA))
    assert p.returncode == 0, p.stderr
    return out, json.loads(p.stdout)


def test_calibrate_meets_the_target_on_fit_and_validation_years(calibrated):
    path, result = calibrated
    assert path.is_file()
    assert result["fit"]["n"] > 200 and result["validation"]["n"] > 150
    assert result["fit"]["rmse_m"] <= 0.15, "fit RMSE at most 15 cm (source: the YRCC bulletin stages are given to 1 cm, and the committed calibration fits 0.107 m)"
    # the model as written (one bed offset, no monthly shifts) is reported too, and cannot beat the shifted fit
    assert result["fit_as_written"]["n"] == result["fit"]["n"]
    assert result["fit_as_written"]["rmse_m"] >= result["fit"]["rmse_m"] - 1e-3
    assert result["validation"]["rmse_m"] <= 0.15, "2019, never seen by the fit (source: the committed calibration validates at 0.123 m)"
    assert abs(result["validation"]["bias_m"]) < 0.05, "validation bias below 5 cm (source: the rating shift from the last 7 observations removes the bed drift; committed: 0.013 m)"
    assert 0.008 < result["channel_n"] < 0.03, "a plausible sand-bed channel n (source: Chow 1959 Table 5-6)"
    assert result["floodplain_n_fitted"] is False  # no overbank day at Huayuankou in 2018-2019
    ext = result["extrapolation"]
    assert ext["monotonic"] is True
    # stage at 22,000 m³/s below the crest by roughly the design freeboard
    assert abs(ext["margin_below_crest_m"] - ext["design_freeboard_m"]) < 0.5, \
        "about the design freeboard (source: the committed calibration gives 3.008 m for 3.0 m; 0.5 m allows the 2018-only fit)"


def test_rating_reads_the_calibration_file(calibrated):
    path, result = calibrated
    p = _run("rating", "--gauge", "Huayuankou", "--discharge", "1000", "3000", "5000", "--json",
             "--calibration", str(path))
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["discharge_m3s"] for r in rows] == [1000.0, 3000.0, 5000.0]
    stages = [r["stage_m"] for r in rows]
    assert stages[0] < stages[1] < stages[2]
    # the 2018 bed: observed ≈ 88.9 / 90.0 m at 1,000 / 3,000 m³/s (docs/reach.md §2, 2018 bulletin fit)
    assert abs(stages[0] - 88.9) < 0.25 and abs(stages[1] - 90.0) < 0.25, \
        "the 2018 observed stages within 25 cm (source: docs/reach.md §2; the monthly bed offsets of 2018 spread ±0.2 m)"
    text = _run("rating", "--gauge", "HYK", "--discharge", "3000", "--calibration", str(path))
    assert text.returncode == 0 and "3,000" in text.stdout


def test_rating_errors_are_one_line():
    p = _run("rating", "--gauge", "Nowhere", "--discharge", "1000")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "gauge 'Nowhere' is not in reach huayuankou" in p.stderr
    p = _run("rating", "--discharge", "1000", "abc")
    assert p.returncode == 2 and "'abc' is not a number" in p.stderr
    p = _run("rating", "--discharge", "-5")
    assert p.returncode == 2 and "discharge -5.0 m³/s: expected a finite number > 0" in p.stderr
    # a huge number is refused, not rated (it gave a stage of 24,622 m)
    p = _run("rating", "--discharge", "1e9")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "at most 100,000 m³/s" in p.stderr
    # outside the model's valid range: a model error naming the range (exit 3)
    p = _run("rating", "--discharge", "1000", "80000")
    assert p.returncode == 3 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "discharge 80,000 m³/s is above the valid range of the reach model" in p.stderr


def test_calibrate_errors_are_one_line(tmp_path):
    p = _run("calibrate", "--station", "Atlantis", "--years", "2018")
    assert p.returncode == 2 and "station 'Atlantis' is not in" in p.stderr
    p = _run("calibrate", "--years", "20x8")
    assert p.returncode == 2 and "years '20x8'" in p.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("channel_n: 5\n")
    p = _run("rating", "--discharge", "1000", "--calibration", str(bad))
    assert p.returncode == 2 and "bad.yaml:1: channel_n: not a plausible Manning n" in p.stderr and "got 5" in p.stderr
    assert p.stderr.strip().count("\n") == 0
    bad.write_text("channel_n: 0.03\nchanel_n: 0.03\n")  # a misspelt key is refused, not ignored
    p = _run("rating", "--discharge", "1000", "--calibration", str(bad))
    assert p.returncode == 2 and "bad.yaml:2: chanel_n: unknown key" in p.stderr
    bad.write_text("channel_n: .nan\n")
    p = _run("rating", "--discharge", "1000", "--calibration", str(bad))
    assert p.returncode == 2 and "bad.yaml:1: channel_n:" in p.stderr


def test_calibrate_refuses_text_in_number_columns_and_an_empty_validation(tmp_path):
    src = (Path(__file__).resolve().parents[2] / "data" / "yrcc").glob("*.csv")
    rows = next(iter(sorted(src))).read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    cols = header.split(",")
    k = next(i for i, line in enumerate(body) if "Huayuankou" in line and line.split(",")[cols.index("stage_m")])
    broken = body[k].split(",")
    broken[cols.index("stage_m")] = "n/a"
    path = tmp_path / "obs.csv"
    path.write_text("\n".join([header, *body[:k], ",".join(broken), *body[k + 1:]]) + "\n", encoding="utf-8")
    p = _run("calibrate", "--years", "2018", "--data", str(path), "--output", str(tmp_path / "c.yaml"), "--quiet")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert f"obs.csv:{k + 2}: stage_m 'n/a' is not a number" in p.stderr, p.stderr
    # validation years with no day in the discharge range: refused, not an RMSE of nan with exit 0
    p = _run("calibrate", "--years", "2018", "--validate", "1995", "--output", str(tmp_path / "c.yaml"), "--quiet")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "no observation in 1000–5000 m³/s in the validation years [1995]: nothing to validate on" in p.stderr
