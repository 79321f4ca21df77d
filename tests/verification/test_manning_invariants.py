"""Steady uniform flow (Manning normal depth), and the invariants every run must keep: mass to
1e-12 in float64, never a negative depth, never NaN, mirror symmetry.

Thresholds (documented): a 2 km channel at slope 1e-3, n = 0.03, fed with 40 m³/s over 20 m
(q = 2 m² s⁻¹) and drained by a NormalDepth boundary with the same slope settles to the normal depth
h_n = (q n / √S)^(3/5) = 1.4686 m; the depth at the middle of the channel must be within 1 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.hydraulics import FreeOutflow, Inflow, NormalDepth, PointSource, Stage, simulate_2d


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_uniform_flow_reaches_manning_normal_depth(scheme):
    dx, nx, ny = 20.0, 100, 1
    slope, n, q = 1e-3, 0.03, 2.0
    x = (np.arange(nx) + 0.5) * dx
    bed = np.repeat((10.0 - slope * x)[None, :], ny, axis=0)
    h_normal = (q * n / np.sqrt(slope)) ** 0.6
    duration = 4 * 3600.0
    ds = simulate_2d(bed, dx_m=dx, duration_s=duration, depth0_m=0.5, manning_n=n, scheme=scheme,
                     boundaries=[Inflow("west", None, None, [0.0, duration], [q * dx * ny] * 2),
                                 NormalDepth("east", slope)],
                     output_times_s=[duration - 600.0, duration])
    mid = ds.depth.isel(time=-1).values[:, 40:60]
    assert np.all(np.abs(mid / h_normal - 1.0) < 0.01), \
        f"normal depth within 1 % (source: module docstring threshold; {mid.min()}, {mid.max()}, {h_normal})"
    # steady: the last ten minutes changed nothing that matters
    change = np.abs(ds.depth.isel(time=-1) - ds.depth.isel(time=0)).values[:, 40:60]
    assert float(change.max()) < 1e-4, "steady: depth changes below 0.1 mm at the end (source: the settling time of the 2 km channel is far shorter than the run)"
    vel = ds.velocity_x.isel(time=-1).values[:, 40:60]
    assert np.all(np.abs(vel * mid / q - 1.0) < 0.01), "uniform discharge q = h u within 1 % (source: module docstring threshold)"
    assert ds.attrs["mass_balance_relative_error"] < 1e-12, \
        "mass to 1e-12 (source: every face flux leaves one cell and enters the other; float64 rounding of the grid sums is ~1e-15 per cell)"


def wetting_drying_case(scheme: str, dtype: str = "float64", threads: int | None = None, **kwargs):
    """A rough, sloping 2D floodplain with a hole, an inflow, a stage, free and normal-depth outflows
    and a breach-like point source that later withdraws water: everything at once."""
    ny, nx, dx = 48, 64, 10.0
    c = (np.arange(nx) + 0.5) * dx
    r = (np.arange(ny) + 0.5) * dx
    x, y = np.meshgrid(c, r)
    bed = 90.0 + 0.002 * (640.0 - x) + 0.4 * np.sin(x / 40.0) * np.cos(y / 55.0)
    bed[20:26, 30:36] = np.nan
    manning = np.where(x < 300, 0.035, 0.025)
    bounds = [
        Inflow("west", 100.0, 300.0, [0.0, 300.0, 900.0], [0.0, 60.0, 10.0]),
        Stage("south", 0.0, 150.0, [0.0, 900.0], [91.2, 90.0]),
        FreeOutflow("east", 0.0, 240.0),
        NormalDepth("east", 0.002, 250.0, None),
        PointSource(405.0, 355.0, [0.0, 400.0, 600.0, 900.0], [8.0, 8.0, -5.0, -5.0]),
    ]
    return simulate_2d(bed, dx_m=dx, duration_s=900.0, manning_n=manning, scheme=scheme, dtype=dtype,
                       boundaries=bounds, output_times_s=np.linspace(0, 900, 10), threads=threads, **kwargs)


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_mass_positivity_finiteness_wetting_drying(scheme):
    ds = wetting_drying_case(scheme)
    a = ds.attrs
    assert a["inflow_volume_m3"] > 1e4 and a["outflow_volume_m3"] > 0
    assert a["source_volume_m3"] != 0
    assert a["mass_balance_relative_error"] < 1e-12, \
        "mass to 1e-12 (source: every face flux leaves one cell and enters the other; float64 rounding of the grid sums is ~1e-15 per cell)"
    inside = np.isfinite(ds.bed.values)
    for name in ("depth", "velocity_x", "velocity_y"):
        assert np.all(np.isfinite(ds[name].values[:, inside]))
    assert float(ds.depth.min()) >= 0.0
    assert float(ds.max_depth.min()) >= 0.0
    # arrival is NaN exactly where the depth never exceeded the threshold
    never = ~(ds.max_depth.values > a["arrival_depth_m"])
    assert np.array_equal(np.isnan(ds.arrival_time.values), never | ~inside)


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_float32_mass_and_positivity(scheme):
    ds = wetting_drying_case(scheme, "float32")
    # float32 depths round at ~1e-7 relative: the balance is good to ~1e-6, never better than that
    assert ds.attrs["mass_balance_relative_error"] < 1e-5, "float32 balance (source: depths round at ~1e-7 relative, accumulated over the steps: ~1e-6)"
    assert float(ds.depth.min()) >= 0.0
    ref = wetting_drying_case(scheme, "float64")
    assert float(np.abs(ds.max_depth - ref.max_depth).max()) < 5e-3, "float32 maxima within 5 mm of float64 (source: wet/dry fronts may move one step earlier or later by rounding)"


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_radial_dam_break_keeps_mirror_symmetry(scheme):
    n, dx = 41, 1.0
    c = np.arange(n) - n // 2
    x, y = np.meshgrid(c, c)
    depth0 = np.where(x**2 + y**2 < 64, 2.0, 0.5)
    ds = simulate_2d(np.zeros((n, n)), dx_m=dx, duration_s=3.0, depth0_m=depth0, scheme=scheme,
                     output_times_s=[3.0])
    d = ds.depth.isel(time=-1).values
    # mirror symmetry to 1e-13 m (source: x and y sweeps add the same fluxes in another order; float64 rounding of 2 m depths is 4e-16 per operation)
    assert np.array_equal(d, d[:, ::-1]) or np.max(np.abs(d - d[:, ::-1])) < 1e-13, "x mirror (rounding)"
    assert np.max(np.abs(d - d[::-1, :])) < 1e-13, "y mirror (rounding)"
    assert np.max(np.abs(d - d.T)) < 1e-13, "diagonal mirror (rounding)"
    assert ds.attrs["mass_balance_relative_error"] < 1e-12, \
        "mass to 1e-12 (source: every face flux leaves one cell and enters the other; float64 rounding of the grid sums is ~1e-15 per cell)"
