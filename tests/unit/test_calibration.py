"""Unit tests of the calibration file schema (floodtwin.hydraulics.calibration.CalibrationFile):
what the model reads, what it refuses, and that what write_calibration writes reads back."""

from __future__ import annotations

import pytest

from floodtwin.errors import ConfigError
from floodtwin.hydraulics.calibration import CalibrationResult, Skill, write_calibration
from floodtwin.hydraulics.sections import CalibrationFile, load_calibration


def _result(**kw) -> CalibrationResult:
    s = Skill(10, 0.1, 0.0, 0.3)
    base = dict(station="Huayuankou", gauge_chainage_m=9600.0, channel_n=0.012934, floodplain_n=0.035,
                floodplain_n_fitted=False, bed_offset_m=0.35687, latest_period_offset_m=0.5,
                latest_period="2019-10", period="month", period_offsets_m={"2019-10": 0.5}, fit_years=[2018],
                validate_years=[2019], discharge_range_m3s=(1000.0, 5000.0), fit=s, validation=s,
                validation_no_update=s, fit_as_written=s, assimilate_days=7, extrapolation={"monotonic": True})
    base.update(kw)
    return CalibrationResult(**base)


def test_written_file_reads_back_as_the_model_reads_it(tmp_path):
    path = write_calibration(_result(), tmp_path / "r.calibration.yaml", command="test")
    got = load_calibration(None, path)
    # write_calibration rounds n to 5 and the offset to 4 decimals (documented in its body)
    assert got == {"channel_n": 0.01293, "floodplain_n": 0.035, "bed_offset_m": 0.3569}
    assert "fit_info" in path.read_text(), "the record of the fit is kept beside the parameters"


def test_an_implausible_fit_is_refused_when_written(tmp_path):
    with pytest.raises(Exception, match="not a plausible Manning n"):
        write_calibration(_result(channel_n=0.5), tmp_path / "bad.yaml")
    assert not (tmp_path / "bad.yaml").exists(), "nothing is written"


@pytest.mark.parametrize("text, message", [
    ("channel_n: 5\n", "bad.yaml:1: channel_n: not a plausible Manning n"),
    ("floodplain_n: 0.001\n", "bad.yaml:1: floodplain_n: not a plausible Manning n"),
    ("channel_n: true\n", "bad.yaml:1: channel_n: Input should be a valid number"),
    ("bed_offset_m: .inf\n", "bad.yaml:1: bed_offset_m: Input should be a finite number"),
    ("channel_n: 0.03\nbed_ofset_m: 0.2\n", "bad.yaml:2: bed_ofset_m: unknown key"),
    ("- 0.03\n", "bad.yaml: expected a mapping of configuration keys at the top level"),
    ("", "bad.yaml: file is empty"),
])
def test_a_malformed_file_is_one_config_error_naming_line_and_key(tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_calibration(None, bad)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file_is_an_error_only_when_named(tmp_path):
    with pytest.raises(ConfigError, match="calibration file not found"):
        load_calibration(None, tmp_path / "none.yaml")


def test_a_partial_file_sets_only_its_keys():
    assert CalibrationFile.model_validate({"bed_offset_m": -0.2}).parameters() == {"bed_offset_m": -0.2}
    with pytest.raises(Exception, match="plausible"):
        CalibrationFile.model_validate({"channel_n": 1})  # an integer n of 1 is read as a number, and refused
