"""simulate_2d: public API, coordinates and orientation, boundaries, outputs, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import floodtwin
from floodtwin.errors import FloodtwinError, InputError
from floodtwin.hydraulics import FreeOutflow, Inflow, NormalDepth, PointSource, Stage, Wall, simulate_2d


def sloping_bed(ny=12, nx=16, dx=10.0):
    x = (np.arange(nx) + 0.5) * dx
    y = (np.arange(ny) + 0.5) * dx
    xx, yy = np.meshgrid(x, y)
    return 90.0 + 0.01 * (nx * dx - xx) + 0.002 * yy


# ---------------------------------------------------------------------------------------------
# API and outputs
# ---------------------------------------------------------------------------------------------
def test_public_names_are_exported_lazily():
    assert floodtwin.simulate_2d is simulate_2d
    import floodtwin.hydraulics as hyd
    for name in ("simulate_2d", "Wall", "Inflow", "Stage", "FreeOutflow", "NormalDepth", "PointSource"):
        assert name in hyd.__all__
        obj = getattr(hyd, name)
        assert obj.__module__.startswith("floodtwin.hydraulics.") and obj.__name__ == name, \
            f"{name} resolves to the engine's own object, not a placeholder"


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_dataset_variables_coordinates_and_attributes(scheme):
    bed = sloping_bed()
    ds = simulate_2d(bed, dx_m=10.0, duration_s=120.0, manning_n=0.03, scheme=scheme,
                     boundaries=[Inflow("west", 30.0, 90.0, [0, 120], [5.0, 5.0]), FreeOutflow("east")],
                     output_times_s=[0, 60, 120], gauges={"G1": (55.0, 55.0)})
    for name in ("depth", "velocity_x", "velocity_y"):
        assert ds[name].dims == ("time", "y", "x")
        assert ds[name].shape == (3, 12, 16)
    for name in ("max_depth", "max_speed", "time_of_max_depth", "arrival_time", "bed"):
        assert ds[name].dims == ("y", "x")
    np.testing.assert_allclose(ds.x.values, (np.arange(16) + 0.5) * 10.0, err_msg="cell centres (rounding only)")
    np.testing.assert_allclose(ds.y.values, (np.arange(12) + 0.5) * 10.0, err_msg="cell centres (rounding only)")
    np.testing.assert_allclose(ds.time.values, [0, 60, 120], err_msg="output times (exact)")
    for name in list(ds.data_vars) + ["x", "y", "time"]:
        assert ds[name].attrs.get("units"), name
    assert ds.attrs["Conventions"].startswith("CF-")
    assert ds.attrs["scheme"] == scheme
    assert ds.attrs["steps"] > 0
    assert 0 < ds.attrs["dt_min_s"] <= ds.attrs["dt_max_s"]
    # 5 m3/s for 120 s, exactly
    assert ds.attrs["inflow_volume_m3"] == pytest.approx(600.0, rel=1e-12), "5 m³/s for 120 s (rounding of float64 sums, ~1e-15 relative)"
    assert ds.attrs["mass_balance_relative_error"] < 1e-12, "mass to 1e-12 (source: face fluxes cancel pairwise; float64 rounding of the grid sums ~1e-15 per cell)"
    assert ds.attrs["storage_change_m3"] == pytest.approx(ds.attrs["final_volume_m3"] - ds.attrs["initial_volume_m3"]), \
        "the same difference (approx default: rounding)"
    # water enters only on the inflow rows of the west edge: the first cells wet are there
    wet_first = ds.arrival_time.isel(x=0).values
    assert np.isfinite(wet_first[3:9]).all()
    assert np.nanmax(wet_first[3:9]) < np.nanmin(np.append(wet_first[:3], np.inf))
    # gauges: a regular series (default interval: output span / 10)
    assert ds.gauge_depth.dims == ("gauge_time", "gauge")
    np.testing.assert_allclose(ds.gauge_time.values, np.arange(0, 121, 6.0), err_msg="gauge times (exact)")
    last = ds.isel(gauge_time=-1, gauge=0)
    assert float(last.gauge_stage) == pytest.approx(float(last.gauge_depth) + float(ds.bed.sel(x=55.0, y=55.0))), \
        "stage = depth + bed (approx default: rounding)"
    assert float(last.gauge_depth) == pytest.approx(float(ds.depth.isel(time=-1).sel(x=55.0, y=55.0))), \
        "the gauge reads the cell (approx default: rounding)"


def test_depth_initial_state_and_maxima():
    bed = np.zeros((8, 8))
    depth0 = np.zeros((8, 8))
    depth0[3:5, 3:5] = 1.0
    ds = simulate_2d(bed, dx_m=1.0, duration_s=2.0, depth0_m=depth0, output_times_s=[0.0, 2.0])
    np.testing.assert_array_equal(ds.depth.isel(time=0).values, depth0)
    assert float(ds.max_depth.max()) == 1.0
    assert np.all(ds.arrival_time.values[3:5, 3:5] == 0.0)
    assert np.all(ds.max_depth.values >= ds.depth.isel(time=-1).values)
    assert float(ds.max_speed.max()) > 0.1


def test_dataarray_descending_y_gives_the_same_answer():
    bed = sloping_bed()
    depth0 = np.where(bed < 90.1, 0.3, 0.0)
    dx = 10.0
    x = (np.arange(16) + 0.5) * dx + 500000.0
    y = (np.arange(12) + 0.5) * dx + 3800000.0
    up = xr.DataArray(bed, dims=("y", "x"), coords={"y": y, "x": x})
    down = up.isel(y=slice(None, None, -1))  # north-up raster order, as the reach DEM
    bounds = [Stage("north", x[3], x[9], [0, 60], [91.5, 91.5])]
    kw = dict(dx_m=dx, duration_s=60.0, manning_n=0.03, output_times_s=[60.0], boundaries=bounds)
    a = simulate_2d(up, depth0_m=depth0, **kw)
    b = simulate_2d(down, depth0_m=depth0[::-1], **kw)
    assert b.y.values[0] > b.y.values[-1]
    np.testing.assert_array_equal(b.y.values, down.y.values)
    np.testing.assert_array_equal(a.depth.values, b.depth.values[:, ::-1, :])
    np.testing.assert_array_equal(a.velocity_y.values, b.velocity_y.values[:, ::-1, :])
    # the north edge of the descending array is its first row: the stage boundary acted there
    assert float(b.depth.isel(time=0, y=0).max()) > 0.05


def test_nan_bed_cells_are_outside_and_walled():
    bed = np.zeros((10, 10))
    bed[:, 5] = np.nan  # a wall of NaN cells splits the domain
    depth0 = np.where(np.arange(10)[None, :] < 5, 1.0, 0.0) * np.ones((10, 1))
    ds = simulate_2d(bed, dx_m=1.0, duration_s=5.0, depth0_m=depth0, output_times_s=[5.0])
    d = ds.depth.isel(time=-1).values
    assert np.all(np.isnan(d[:, 5]))
    assert np.all(d[:, 6:] == 0.0)
    np.testing.assert_allclose(np.nansum(d), 50.0, rtol=1e-13, err_msg="volume kept (rounding of float64 sums, ~1e-15 relative)")


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_stage_boundary_fills_to_the_stage(scheme):
    bed = np.zeros((6, 30))
    ds = simulate_2d(bed, dx_m=5.0, duration_s=3600.0, depth0_m=0.2, manning_n=0.02, scheme=scheme,
                     boundaries=[Stage("west", None, None, [0, 3600], [1.0, 1.0])], output_times_s=[3600.0])
    # the basin fills to the stage (a damped seiche of a few cm remains after an hour)
    np.testing.assert_allclose(ds.depth.isel(time=-1).values, 1.0, atol=0.05,
                               err_msg="filled to the stage (source: the damped seiche of a few cm, comment above)")
    assert float(ds.depth.isel(time=-1).mean()) == pytest.approx(1.0, abs=0.03), "mean level (the seiche, comment above)"
    assert ds.attrs["inflow_volume_m3"] - ds.attrs["outflow_volume_m3"] == pytest.approx(
        ds.attrs["storage_change_m3"], rel=1e-12), "boundary volumes = storage change (rounding of float64 sums, ~1e-15 relative)"
    assert ds.attrs["mass_balance_relative_error"] < 1e-12, "mass to 1e-12 (source: face fluxes cancel pairwise; float64 rounding of the grid sums ~1e-15 per cell)"


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_outflow_boundaries_drain(scheme):
    x = (np.arange(40) + 0.5) * 5.0
    bed = np.repeat((1.0 - 0.01 * x)[None, :], 4, axis=0)
    for bc in (FreeOutflow("east"), NormalDepth("east", 0.01)):
        ds = simulate_2d(bed, dx_m=5.0, duration_s=600.0, depth0_m=0.5, manning_n=0.03, scheme=scheme,
                         boundaries=[bc], output_times_s=[600.0])
        assert ds.attrs["outflow_volume_m3"] > 0.5 * ds.attrs["initial_volume_m3"]
        assert ds.attrs["inflow_volume_m3"] == 0.0
        assert ds.attrs["mass_balance_relative_error"] < 1e-12, "mass to 1e-12 (source: face fluxes cancel pairwise; float64 rounding of the grid sums ~1e-15 per cell)"


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_point_source_volume_and_withdrawal_limit(scheme):
    bed = np.zeros((9, 9))
    src = PointSource(4.5, 4.5, [0, 10, 20], [2.0, 2.0, -50.0])
    ds = simulate_2d(bed, dx_m=1.0, duration_s=20.0, scheme=scheme, boundaries=[src], output_times_s=[10.0, 20.0])
    stored_10 = float(ds.depth.isel(time=0).sum())
    assert stored_10 == pytest.approx(20.0, rel=1e-6), "2 m³/s for 10 s, nothing leaves the box (1e-6: the float output of depth)"
    # the withdrawal asks for more than the cell has: never a negative depth, and the balance counts
    # only what was really taken
    assert float(ds.depth.min()) >= 0.0
    assert ds.attrs["source_volume_m3"] == pytest.approx(ds.attrs["storage_change_m3"], rel=1e-12, abs=1e-12), \
        "sources = storage change (rounding of float64 sums, ~1e-15 relative)"
    assert ds.attrs["source_volume_m3"] < 20.0


def test_inflow_by_conveyance_prefers_deep_cells():
    bed = np.zeros((10, 20))
    bed[:5, :] = 0.5  # south half higher: shallower
    ds = simulate_2d(bed, dx_m=2.0, duration_s=20.0, depth0_m=np.where(bed > 0, 0.1, 0.6),
                     boundaries=[Inflow("west", None, None, [0, 20], [4.0, 4.0])], scheme="inertial",
                     output_times_s=[20.0])
    qx_deep = float(ds.velocity_x.isel(time=-1, x=0, y=7) * ds.depth.isel(time=-1, x=0, y=7))
    qx_shallow = float(ds.velocity_x.isel(time=-1, x=0, y=2) * ds.depth.isel(time=-1, x=0, y=2))
    assert qx_deep > qx_shallow > 0


def test_threads_argument_and_float32():
    bed = np.zeros((16, 16))
    ds = simulate_2d(bed, dx_m=1.0, duration_s=1.0, depth0_m=0.5, threads=1, dtype="float32", output_times_s=[1.0])
    assert ds.attrs["threads"] == 1
    assert ds.depth.dtype == np.float32
    assert ds.attrs["dtype"] == "float32"


# ---------------------------------------------------------------------------------------------
# bad input: one-line InputError before computing
# ---------------------------------------------------------------------------------------------
BED = np.zeros((6, 8))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(depth0_m=np.zeros((5, 8))), "depth0_m: shape (5, 8) does not match the bed (6, 8)"),
    (dict(manning_n=np.zeros((6, 7))), "manning_n: shape (6, 7) does not match"),
    (dict(manning_n=-0.03), "manning_n: negative value"),
    (dict(depth0_m=-1.0), "depth0_m: negative value"),
    (dict(depth0_m=np.full((6, 8), np.nan)), "depth0_m: not a finite number"),
    (dict(duration_s=0.0), "duration_s = 0.0 must be a positive"),
    (dict(duration_s=-5.0), "duration_s = -5.0 must be a positive"),
    (dict(dx_m=0.0), "dx_m = 0.0 must be a positive"),
    (dict(scheme="roe"), "scheme = 'roe'"),
    (dict(dtype="float16"), "dtype = 'float16'"),
    (dict(cfl=1.5), "cfl = 1.5 must be at most 1"),
    (dict(limiter="weno"), "limiter = 'weno'"),
    (dict(stepping="rk4"), "stepping = 'rk4': expected one of hancock, heun"),
    (dict(output_times_s=[0, 20]), "output_times_s: times must lie in [0, duration_s"),
    (dict(output_times_s=[5, 2]), "output_times_s: times must increase"),
    (dict(gauges={"far": (1e6, 0)}), "gauges: far at (1e+06, 0) m is not on an active cell"),
    (dict(boundaries=[Inflow("west", None, None, [0, 5], [1, 1])]), "time series covers 0–5 s but the run needs 0–10 s"),
    (dict(boundaries=[Stage("east", None, None, [2, 10], [1, 1])]), "time series covers 2–10 s"),
    (dict(boundaries=[PointSource(3.0, 3.0, [0, 9], [1, 1])]), "PointSource(3.0, 3.0): time series covers"),
    (dict(boundaries=[Inflow("west", 100, 200, [0, 10], [1, 1])]), "covers no active cell on the west edge"),
    (dict(boundaries=[FreeOutflow("east"), NormalDepth("east", 0.01, manning_n=0.03)]), "overlaps FreeOutflow(east)"),
    (dict(boundaries=[NormalDepth("north", 0.01)]), "needs a positive Manning n"),
    (dict(boundaries=[PointSource(100.0, 3.0, [0, 10], [1, 1])]), "is not on an active cell"),
    (dict(boundaries=["west"]), "boundaries: 'west' is not a Wall"),
    (dict(memory_budget_bytes=1000), "memory budget"),
    (dict(velocity0_ms=(0.0,)), "velocity0_ms: expected a (u, v) pair"),
])
def test_bad_input_is_one_line_input_error(kwargs, fragment):
    args = dict(dx_m=1.0, duration_s=10.0)
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        simulate_2d(BED, **args)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_bed_inputs():
    with pytest.raises(InputError, match="bed: expected a 2-D array"):
        simulate_2d(np.zeros(5), dx_m=1.0, duration_s=1.0)
    with pytest.raises(InputError, match="no cell inside the domain"):
        simulate_2d(np.full((3, 3), np.nan), dx_m=1.0, duration_s=1.0)
    with pytest.raises(InputError, match="infinite elevation"):
        simulate_2d(np.array([[0.0, np.inf]]), dx_m=1.0, duration_s=1.0)
    da = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"), coords={"y": [0.0, 2.0, 4.0], "x": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="coordinate y is not evenly spaced at dx_m = 1 m"):
        simulate_2d(da, dx_m=1.0, duration_s=1.0)


@pytest.mark.parametrize("make, fragment", [
    (lambda: Wall("up"), "edge 'up' is not one of west, east, south, north"),
    (lambda: Inflow("west", 10, 0, [0, 1], [1, 1]), "end_m = 0 is before start_m = 10"),
    (lambda: Inflow("west", None, None, [0, 1], [1, -1]), "discharge_m3s must be ≥ 0"),
    (lambda: Inflow("west", None, None, [0, 1, 1], [1, 1, 1]), "times_s must increase strictly"),
    (lambda: Stage("west", None, None, [0, 1], [1]), "equal, non-zero length"),
    (lambda: Stage("west", None, None, [0, 1], [1, np.nan]), "must be finite"),
    (lambda: NormalDepth("east", 0.0), "slope = 0.0 must be a positive number"),
    (lambda: NormalDepth("east", 0.01, manning_n=-1), "manning_n = -1 must be a positive"),
    (lambda: PointSource(np.nan, 0, [0, 1], [1, 1]), "x_m = nan is not a finite number"),
])
def test_boundary_objects_validate_themselves(make, fragment):
    with pytest.raises(InputError) as info:
        make()
    assert fragment in str(info.value)
    assert isinstance(info.value, FloodtwinError)


def test_memory_budget_is_checked_before_allocating():
    # 20 000 × 20 000 cells with 50 outputs would need terabytes: refused at once
    bed = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(20000, 20000), strides=(0, 0))
    with pytest.raises(InputError, match="memory budget"):
        simulate_2d(bed[:2000, :2000], dx_m=1.0, duration_s=10.0, output_times_s=np.linspace(0, 10, 50),
                    memory_budget_bytes=2**30)


def _spreading_flood(scheme: str, stepping: str = "hancock"):
    """A flood entering a mostly dry, bumpy floodplain with a hole outside the domain, a breach-like
    point source, a stage on part of the north edge and free outflow east."""
    rng = np.random.default_rng(7)
    ny, nx = 45, 70
    bed = 0.2 * rng.random((ny, nx)) + np.linspace(0.0, -0.5, nx)[None, :]
    bed[20:26, 30:34] = np.nan
    depth0 = np.zeros((ny, nx))
    depth0[5:9, 50:54] = 0.3  # a pond far from the inflow
    bounds = [Inflow("west", 30.0, 90.0, [0.0, 400.0], [8.0, 8.0]),
              Stage("north", 200.0, 260.0, [0.0, 400.0], [0.3, 0.3]),
              FreeOutflow("east"),
              PointSource(250.0, 60.0, [0.0, 400.0], [1.0, 1.0])]
    kw = dict(stepping=stepping) if scheme == "godunov" else {}
    return simulate_2d(bed, dx_m=5.0, duration_s=150.0, manning_n=0.035, scheme=scheme, boundaries=bounds,
                       depth0_m=depth0, output_times_s=[50.0, 100.0, 150.0], **kw)


@pytest.mark.parametrize("scheme, stepping", [("inertial", None), ("godunov", "hancock"), ("godunov", "heun")])
def test_skipping_dry_cells_changes_nothing(monkeypatch, scheme, stepping):
    """The kernels skip the columns of each block of rows that have never held water (a window
    around the wet extent). With a margin wider than the grid every cell is computed: the results
    must be the same bit for bit."""
    import floodtwin.hydraulics.floodplain as fp

    windowed = _spreading_flood(scheme, stepping)
    wet = float((windowed.max_depth > 0).mean())
    assert 0.05 < wet < 0.9  # the flood spread, but not over everything: windows were partial
    monkeypatch.setattr(fp, "WINDOW_MARGIN", 10**6)
    monkeypatch.setattr(fp, "INERTIAL_WINDOW_MARGIN", 10**6)
    full = _spreading_flood(scheme, stepping)
    for name in windowed.data_vars:
        np.testing.assert_array_equal(windowed[name].values, full[name].values, err_msg=name)
    for key in ("steps", "final_volume_m3", "inflow_volume_m3", "outflow_volume_m3"):
        assert windowed.attrs[key] == full.attrs[key], key
    assert windowed.attrs["mass_balance_relative_error"] < 1e-12, "mass to 1e-12 (source: face fluxes cancel pairwise; float64 rounding of the grid sums ~1e-15 per cell)"
    if scheme == "inertial":
        # the inertial rows run with a margin of one cell; none would hold the flood back: the
        # comparison above can tell a window that is too narrow
        from floodtwin.errors import ModelError

        monkeypatch.setattr(fp, "INERTIAL_WINDOW_MARGIN", 0)
        try:
            narrow = _spreading_flood(scheme, stepping)
            differs = not np.array_equal(narrow.max_depth.values, full.max_depth.values)
        except ModelError:  # the result check found the water the window's end faces held back
            differs = True
        assert differs


@pytest.mark.parametrize("limiter", ["mc", "minmod", "vanleer"])
def test_sharpening_only_where_a_span_may_hold_a_shock_changes_nothing(limiter):
    """The Hancock predictor sharpens shocks only in the spans of a row where
    kernels2d.reconstruction._span_may_shock finds one (the row loops skip the sharpening). Sharpening every
    interior cell of the row must give the same face values bit for bit: the test must be a
    superset of the cells whose sharpening weight is above zero. The row holds smooth flow, a
    bore, velocity drops just below and just above the detection threshold, and thin water."""
    from floodtwin.hydraulics.kernels2d import reconstruction as k2
    from floodtwin.hydraulics._codes import G_MS2
    from floodtwin.hydraulics.floodplain import H_DRY_M

    rng = np.random.default_rng(7)
    span = k2.SHARPEN_SPAN
    nx = 12 * span
    x = np.arange(nx)
    h = 1.0 + 0.05 * np.sin(x / 9.0)[None, :] + 0.001 * rng.random((3, nx))
    u = 0.3 + 0.02 * np.cos(x / 11.0)[None, :] + 0.001 * rng.random((3, nx))
    v = 0.1 + 0.001 * rng.random((3, nx))
    z = 0.002 * rng.random((3, nx))
    ramp = np.clip((x - 97) / 6.0, 0.0, 1.0)  # a bore over columns 97-103 (span 1)
    h[1] += 0.6 * ramp
    u[1] -= 1.5 * ramp
    c = np.sqrt(G_MS2 * h[1])
    fractions = [0.93, 0.97, 0.995, 1.003, 1.02, 1.1, 1.5]  # of the detection threshold, spans 3-9
    for k, fraction in enumerate(fractions):
        j = (3 + k) * span + 20  # a velocity drop along x at cell j, along y at cell j + 7
        drop = fraction * k2.SHOCK_DETECT_FRACTION
        u[1, j] = u[1, j - 1] - 0.5 * drop * c[j]
        u[1, j + 1] = u[1, j - 1] - drop * c[j]
        v[1, j + 7] = v[2, j + 7] + 0.5 * drop * c[j + 7]
        v[0, j + 7] = v[2, j + 7] + drop * c[j + 7]
    h[:, 11 * span + 5:11 * span + 9] = 0.03  # thin water (span 11): never sharpened
    u[1, 11 * span + 6] = 2.0
    code = {"mc": k2.LIMITER_MC, "minmod": k2.LIMITER_MINMOD, "vanleer": k2.LIMITER_VANLEER}[limiter]
    lp, lq, wa, wb, vanleer = k2._limiter_params(code)
    mc = code == k2.LIMITER_MC
    half_dt_dx = 0.5 * 0.45 / 4.0
    rows = [a[r] for r in (0, 1, 2) for a in (h, u, v, z)]

    def faces(sharpen, everywhere):
        sx, sy = np.zeros((8, nx)), np.zeros((8, nx))
        if sharpen and not everywhere:  # the model's row: sharpened where _span_may_shock finds a shock
            k2._godunov_prepare_row(1, 0, nx, h, u, v, z, code, H_DRY_M, True, half_dt_dx, G_MS2, sx, sy)
        else:  # the predictor without sharpening (the first and last cell sharpened, as in the model)
            k2._prepare_line_with(*rows, True, True, False, half_dt_dx, G_MS2, lp, lq, wa, wb, vanleer and not mc,
                                  mc, H_DRY_M, sx, sy, 1, nx - 1)
        if everywhere:
            k2._sharpen_span(*rows, True, half_dt_dx, G_MS2, lp, lq, wa, wb, vanleer and not mc, mc, H_DRY_M,
                             sx, sy, 1, nx - 1)
        return np.concatenate([sx, sy])

    model, everywhere, plain = faces(True, False), faces(True, True), faces(False, False)
    np.testing.assert_array_equal(model, everywhere)
    # not vacuous: the detection flagged the spans with a shock, or a drop within its 10 % margin,
    # and the sharpening moved the faces of the bore and of the drops above the threshold alone
    lows = range(1, nx - 1, span)
    views = [slice(lo - 1, min(lo + span, nx - 1) + 1) for lo in lows]  # each span and one column either side
    flagged = [k2._span_may_shock(h[0, w], v[0, w], h[1, w], u[1, w], h[2, w], v[2, w], G_MS2, H_DRY_M)
               for w in views]
    changed = [not np.array_equal(model[:, lo:lo + span], plain[:, lo:lo + span]) for lo in lows]
    assert flagged == [False, True, False] + [True] * 7 + [False, False]
    assert changed == [False, True, False] + [f > 1.0 for f in fractions] + [False, False]


def test_floodplain_in_one_call_is_simulate_2d():
    """The stepping object run to the end in one call gives simulate_2d's result bit for bit."""
    from floodtwin.hydraulics import Floodplain

    bed = np.add.outer(np.zeros(30), np.linspace(1.0, 0.0, 40))
    kw = dict(dx_m=10.0, duration_s=200.0, manning_n=0.03, scheme="godunov", depth0_m=0.2,
              boundaries=[Inflow("west", None, None, [0.0, 200.0], [5.0, 5.0]), FreeOutflow("east")],
              output_times_s=[100.0, 200.0])
    ds = simulate_2d(bed, **kw)
    model = Floodplain(bed, **kw)
    model.advance(200.0)
    again = model.dataset()
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].values, again[name].values, err_msg=name)
    assert again.attrs["steps"] == ds.attrs["steps"]


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_floodplain_intervals_with_exchange_links(scheme):
    """Advance in intervals with water added and withdrawn at link cells (a 1D channel's bank
    exchange): each link gets what was asked, a withdrawal never more than its cell holds, and the
    volume balance closes to round-off."""
    from floodtwin.hydraulics import Floodplain

    bed = np.zeros((20, 30))
    bed[:, 20:] = 0.5  # a terrace the water must climb
    links = ([5.0, 5.0, 255.0], [55.0, 145.0, 105.0])  # x, y (m) of three bank cells
    model = Floodplain(bed, dx_m=10.0, duration_s=600.0, manning_n=0.035, scheme=scheme, link_xy_m=links,
                       output_times_s=[600.0])
    added = model.advance(300.0, [2.0, 1.0, 0.0])
    np.testing.assert_allclose(added, [600.0, 300.0, 0.0], rtol=1e-12, err_msg="rate × interval (rounding of float64 sums, ~1e-15 relative)")
    assert model.t_s == 300.0
    assert model.link_depth_m[0] > 0.0 and model.link_depth_m[2] == 0.0
    # withdraw far more than the cells hold: each link gives only what it has
    before = model.link_depth_m * 100.0
    taken = model.advance(600.0, [-50.0, -50.0, -1.0])
    assert np.all(taken <= 0.0) and np.all(-taken <= before + 600.0 * 5.0)
    assert taken[2] == 0.0  # a dry cell gives nothing
    ds = model.dataset()
    assert ds.attrs["mass_balance_relative_error"] < 1e-12, "mass to 1e-12 (source: face fluxes cancel pairwise; float64 rounding of the grid sums ~1e-15 per cell)"
    assert ds.attrs["source_volume_m3"] == pytest.approx(float(added.sum() + taken.sum()), rel=1e-12), \
        "the link volumes are the source volume (rounding of float64 sums, ~1e-15 relative)"
    assert float(ds.depth.min()) >= 0.0


def test_floodplain_bad_calls_are_one_line_errors():
    from floodtwin.hydraulics import Floodplain

    model = Floodplain(np.zeros((6, 8)), dx_m=1.0, duration_s=10.0, link_xy_m=([0.5], [0.5]))
    with pytest.raises(InputError, match="until_s = 20 s must lie in"):
        model.advance(20.0)
    with pytest.raises(InputError, match="link_rates_m3s must be 1 finite rates"):
        model.advance(5.0, [1.0, 2.0])
    with pytest.raises(InputError, match="link_rates_m3s must be 1 finite rates"):
        model.advance(5.0, [np.nan])
    with pytest.raises(InputError, match="until_s must be a number"):
        model.advance("soon")
    with pytest.raises(InputError, match="link_rates_m3s numbers"):
        model.advance(5.0, ["a lot"])
    model.advance(5.0, [0.1])
    with pytest.raises(InputError, match=r"until_s = 2 s must lie in \[5, 10\]"):
        model.advance(2.0)
    with pytest.raises(InputError, match="link_xy_m: point 0 at \\(100, 0.5\\) m is not on an active cell"):
        Floodplain(np.zeros((6, 8)), dx_m=1.0, duration_s=10.0, link_xy_m=([100.0], [0.5]))


def test_max_speed_counts_only_water_deeper_than_the_speed_depth():
    """A 1 m dam break running down a frictionless 2 % plane: films ahead of the wave carry
    u = hu/h of round-off-sized numbers. The running maximum counts speeds only where the water is
    deeper than SPEED_DEPTH_M (5 cm), so it agrees with what the snapshots show there."""
    from floodtwin.hydraulics.floodplain import H_DRY_M, SPEED_DEPTH_M

    ny, nx, dx, slope, h0 = 20, 300, 1.0, 0.02, 1.0
    x = (np.arange(nx) + 0.5) * dx
    bed = np.tile(-slope * x, (ny, 1))
    depth0 = np.tile(np.where(x < 50, h0, 0.0), (ny, 1))
    kw = dict(dx_m=dx, duration_s=120.0, depth0_m=depth0, manning_n=0.0, scheme="godunov",
              output_times_s=np.arange(0.0, 120.01, 0.5))
    ds = simulate_2d(bed, **kw)
    assert ds.attrs["speed_depth_m"] == SPEED_DEPTH_M == 0.05
    speed = np.hypot(ds.velocity_x, ds.velocity_y).values
    seen = float(np.nanmax(np.where(ds.depth.values > SPEED_DEPTH_M, speed, 0.0)))
    top = float(np.nanmax(ds.max_speed.values))
    # energy bound: the dam-break front 2·sqrt(g·h0) (Ritter) plus free fall over the plane's drop
    bound = 2 * np.sqrt(9.81 * h0) + np.sqrt(2 * 9.81 * slope * nx * dx)
    assert top <= bound, f"max_speed {top:.1f} m/s above the energy bound {bound:.1f} m/s (source: Ritter + free fall)"
    # the running maximum sees every step, the snapshots every 0.5 s: within 15 % (measured 14.55 vs 13.07 m/s)
    assert seen <= top <= 1.15 * seen, (top, seen)
    # counting films too (the old behaviour) puts speeds of ~80 m/s into the maximum: what the threshold removes
    films = float(np.nanmax(simulate_2d(bed, speed_depth_m=H_DRY_M, **kw).max_speed.values))
    assert films > 3 * seen, (films, seen)


# ---------------------------------------------------------------------------------------------
# flood-hazard outputs: time above a depth, maximum hazard rating (Defra/EA FD2320/FD2321)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
def test_duration_above_of_still_water_is_the_run_time(scheme):
    """Two lakes at rest, split by a NaN wall: 0.5 m deep (above the 0.3 m default) and 0.2 m deep
    (below). Still water stays still, so the deep lake's cells are above for the whole 100 s run and
    the shallow lake's never; the time above is the telescoped sum of the steps, t_end − 0, exactly."""
    from floodtwin.hydraulics.floodplain import DURATION_DEPTH_M

    bed = np.zeros((6, 11))
    bed[:, 5] = np.nan
    depth0 = np.where(np.arange(11)[None, :] < 5, 0.5, 0.2) * np.ones((6, 1))
    ds = simulate_2d(bed, dx_m=1.0, duration_s=100.0, depth0_m=depth0, manning_n=0.03, scheme=scheme,
                     output_times_s=[100.0])
    assert ds.attrs["duration_depth_m"] == DURATION_DEPTH_M == 0.3
    assert ds.attrs["steps"] > 50  # many steps summed, not one
    d = ds.duration_above.values
    assert np.all(d[:, :5] == 100.0), "above for the whole run: exactly the run time"
    assert np.all(d[:, 6:] == 0.0), "0.2 m < 0.3 m: never above"
    assert np.all(np.isnan(d[:, 5])), "outside the domain"
    # a threshold between the two depths
    low = simulate_2d(bed, dx_m=1.0, duration_s=100.0, depth0_m=depth0, manning_n=0.03, scheme=scheme,
                      output_times_s=[100.0], duration_depth_m=0.1)
    assert np.all(low.duration_above.values[:, 6:] == 100.0)
    assert low.duration_above.attrs["units"] == "s"


def test_duration_above_counts_each_spell_above_by_its_steps():
    """The per-cell rule of kernels2d.maxima._above_cell on a hand-made sequence of step ends:
    steps (0, 10], (10, 25], (25, 30], (30, 50], (50, 51] end at depths 0.5, 0.1, 0.4, 0.4, 0.3;
    steps ending above 0.3 m count in full: 10 + 5 + 20 = 35 s (0.3 m itself is not above)."""
    from floodtwin.hydraulics.kernels2d.maxima import _above_cell

    since, closed = np.nan, 0.0
    for t_old, t_new, hn in ((0.0, 10.0, 0.5), (10.0, 25.0, 0.1), (25.0, 30.0, 0.4), (30.0, 50.0, 0.4),
                             (50.0, 51.0, 0.3)):
        since, closed = _above_cell(True, hn, since, closed, t_old, 0.3)
        if t_new == 30.0:  # a spell open: the time above so far is the closed one plus the open one
            assert closed + (t_new - since) == 15.0
    assert np.isnan(since), "the last step ended at 0.3 m: not above, the spell is closed"
    assert closed == 35.0
    # outside the domain nothing is ever counted
    assert _above_cell(False, 5.0, np.nan, 0.0, 0.0, 0.3)[1] == 0.0 and np.isnan(_above_cell(False, 5.0, np.nan, 0.0, 0.0, 0.3)[0])


@pytest.mark.parametrize("h, v, expected", [
    (0.2, 1.0, 0.3),      # h ≤ 0.25 m: DF = 0; 0.2·1.5
    (0.25, 1.0, 0.375),   # exactly 0.25 m: still DF = 0
    (0.26, 1.0, 0.89),    # just deeper: DF = 0.5; 0.26·1.5 + 0.5
    (0.5, 2.0, 1.75),     # v = 2 m/s is not above 2: DF = 0.5; 0.5·2.5 + 0.5
    (0.5, 2.5, 2.5),      # v > 2 m/s: DF = 1; 0.5·3 + 1
    (0.2, 3.0, 0.7),      # fast but shallow: DF = 0 whatever the speed; 0.2·3.5
    (0.04, 3.0, 0.02),    # not above speed_depth_m (5 cm): v counts as 0; 0.04·0.5
    (0.0, 0.0, 0.0),
])
def test_hazard_rating_formula_and_debris_factor_steps(h, v, expected):
    from floodtwin.hydraulics.kernels2d.maxima import hazard_rating

    assert hazard_rating(h, v, 0.05) == pytest.approx(expected, rel=1e-15, abs=1e-16), \
        "HR = h(v + 0.5) + DF by hand (tolerance: float64 rounding of two operations)"


@pytest.mark.parametrize("scheme", ["godunov", "inertial"])
@pytest.mark.parametrize("h, u, expected", [(0.2, 1.0, 0.3), (0.3, 1.0, 0.95), (0.3, 2.5, 1.9), (0.04, 3.0, 0.02)])
def test_max_hazard_rating_of_a_uniform_flow(scheme, h, u, expected):
    """Water h deep moving uniformly at u over a flat frictionless bed stays uniform away from the
    walls (no gradient, no friction: the interior q never changes) until the walls' disturbance
    arrives, at most one cell per step. After 5 steps the interior 30 of 60 columns still carry
    (h, u) exactly, so their maximum hazard rating is HR(h, u) by hand, DF steps included."""
    nx = 60
    bed = np.zeros((5, nx))
    dt = 0.5 * 1.0 / (np.sqrt(9.81 * h) + u)  # well inside either scheme's time step
    ds = simulate_2d(bed, dx_m=1.0, duration_s=5 * dt, depth0_m=h, velocity0_ms=(u, 0.0), manning_n=0.0,
                     scheme=scheme, output_times_s=[5 * dt])
    assert ds.attrs["steps"] <= 12  # the wall disturbance reaches at most 12 columns in
    hr = ds.max_hazard_rating.values[:, 15:45]
    np.testing.assert_allclose(hr, expected, rtol=1e-12,
                               err_msg="HR by hand (tolerance: rounding of q = h·u and of |q|/h)")
    np.testing.assert_allclose(ds.depth.isel(time=-1).values[:, 15:45], h, rtol=1e-13, err_msg="still uniform")
    # the initial state counts: no cell off the two wall columns (whose initial velocity the inertial
    # scheme's face average halves) is below HR(h, u) (rounding of q = h·u and of |q|/h)
    assert np.all(ds.max_hazard_rating.values[:, 1:-1] >= expected * (1 - 1e-12))
    assert ds.max_hazard_rating.attrs["units"] == "1"


def test_max_hazard_rating_and_duration_follow_a_flood_wave():
    """A filling basin (stage boundary on the west edge): the maximum hazard rating is at least that
    of every stored snapshot (the running maximum sees every step), and a cell's time above 0.3 m is
    at most the run time and at least the time between the first snapshot above 0.3 m and the end
    if it stays above."""
    from floodtwin.hydraulics.kernels2d.maxima import hazard_field

    bed = np.zeros((8, 40))
    times = np.arange(0.0, 300.01, 10.0)
    ds = simulate_2d(bed, dx_m=2.0, duration_s=300.0, manning_n=0.03, scheme="inertial",
                     boundaries=[Stage("west", 0.0, 16.0, [0, 300], [1.0, 1.0])], output_times_s=times)
    hr_snap = np.zeros_like(ds.depth.values)
    for k in range(times.size):
        hazard_field(ds.depth.values[k], ds.velocity_x.values[k], ds.velocity_y.values[k], 0.05, hr_snap[k])
    top = ds.max_hazard_rating.values
    assert np.all(top >= hr_snap.max(axis=0) * (1 - 1e-12)), "the running maximum sees every snapshot"
    assert float(top.max()) > 0.5  # a real wave went through
    d = ds.duration_above.values
    above = ds.depth.values > 0.3
    stays = above[-1] & np.all(np.maximum.accumulate(above, axis=0) == above, axis=0)  # above from its first time on
    first = np.where(above.any(axis=0), times[np.argmax(above, axis=0)], np.inf)
    assert stays.sum() > 20
    assert np.all(d[stays] >= 300.0 - first[stays] - 1e-9)
    assert np.all(d <= 300.0 + 1e-9) and np.all(d[~above.any(axis=0)] <= 10.0 + 1e-9)


def test_duration_depth_must_be_positive():
    with pytest.raises(InputError, match="duration_depth_m"):
        simulate_2d(np.zeros((4, 4)), dx_m=1.0, duration_s=1.0, duration_depth_m=-0.3)


def test_couple_returns_the_2d_hazard_fields():
    """couple() passes the 2D model's per-cell hazard fields through on the bed's dims: arrival is the
    first depth above 5 cm (NaN exactly where the maximum depth never exceeded it), the time above
    0.3 m is at most the run, and HR ≥ h/2 wherever the water was (the rating's floor, v ≥ 0, DF ≥ 0)."""
    from floodtwin.hydraulics.coupling import Links, couple, links_for_chainage
    from floodtwin.hydraulics.sections import Sections

    slope, length, dx = 2e-4, 6000.0, 50.0
    chain = np.linspace(0.0, length, 25)
    prof = [(np.array([0.0, 0.1, 99.9, 100.0]), np.array([3.0, 0.0, 0.0, 3.0]) + 50.0 - slope * c) for c in chain]
    sec = Sections.from_arrays(prof, chain, banks_m=[(0.0, 100.0)] * 25, manning_n=(0.03, 0.03, 0.03))
    x = (np.arange(int(length / dx)) + 0.5) * dx
    y = 100.0 + (np.arange(12) + 0.5) * dx
    bed = xr.DataArray(50.0 + 2.5 - slope * x[None, :] - 0.02 * np.arange(12)[:, None], dims=("y", "x"),
                       coords={"y": y, "x": x})
    k, w = links_for_chainage(sec, x)
    links = Links(np.zeros(x.size, np.int64), np.arange(x.size), x, np.full(x.size, y[0]), k, w, 53.0 - slope * x,
                  np.full(x.size, dx))
    duration = 4 * 3600.0
    ds = couple(sec, bed, dx_m=dx, links=links, duration_s=duration, coupling_dt_s=300.0, manning_n_2d=0.04,
                inflow_m3s=lambda t: 150.0 + 650.0 * np.exp(-(((t - 2 * 3600.0) / 3600.0) ** 2)))
    for name in ("max_speed", "arrival_time", "duration_above", "max_hazard_rating"):
        assert ds[name].dims == ("y", "x"), name
        assert ds[name].attrs.get("units"), name
    assert ds.attrs["arrival_depth_m"] == 0.05 and ds.attrs["duration_depth_m"] == 0.3
    md = ds.max_depth.values
    assert (md > 0.3).sum() > 10, "the flood went onto the floodplain deeper than 0.3 m"
    np.testing.assert_array_equal(np.isfinite(ds.arrival_time.values), md > 0.05)
    d = ds.duration_above.values
    assert np.all((d >= 0) & (d <= duration)) and np.all(d[md <= 0.3] == 0.0) and np.all(d[md > 0.3] > 0.0)
    hr = ds.max_hazard_rating.values
    assert np.all(hr >= 0.5 * md * (1 - 1e-12))
