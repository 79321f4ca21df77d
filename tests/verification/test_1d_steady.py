"""1D steady verification: Manning normal depth (1 mm) and the Bresse M1 backwater curve (1 cm)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from floodtwin.hydraulics.channel import steady_profile

from floodtwin.hydraulics.sections import Sections


@pytest.mark.parametrize("discharge_m3s", [20.0, 200.0, 900.0])
def test_uniform_flow_is_manning_normal_depth(discharge_m3s):
    slope, n, bottom, side = 5e-4, 0.03, 50.0, 2.0
    chain = np.arange(0.0, 20001.0, 250.0)
    prof = []
    for c in chain:
        z = 100.0 - slope * c
        sta = np.array([0.0, side * 8, side * 8 + bottom, 2 * side * 8 + bottom])
        prof.append((sta, np.array([z + 8, z, z, z + 8])))
    sec = Sections.from_arrays(prof, chain, banks_m=[(0.0, prof[0][0][-1])] * chain.size, manning_n=(n, n, n))

    def manning_q(h):
        area = h * (bottom + side * h)
        perim = bottom + 2 * h * np.sqrt(1 + side ** 2)
        return area * (area / perim) ** (2 / 3) * np.sqrt(slope) / n

    h_normal = brentq(lambda h: manning_q(h) - discharge_m3s, 1e-3, 8.0, xtol=1e-12)
    ds = steady_profile(sec, discharge_m3s, "normal")
    depth = (ds["stage"] - ds["bed"]).values
    assert np.max(np.abs(depth - h_normal)) < 1e-3, \
        "normal depth within 1 mm (source: the property tables sample stage every ~2 cm, 801 levels; their interpolation error of conveyance is far below 1 mm of depth)"
    assert not bool(ds["critical"].any())


def _bresse_x(h, hn, hc, s0):
    """Bresse (1860): position (m, up to a constant) of depth h on a wide rectangular Chezy channel."""
    e = h / hn
    phi = np.log(abs(e - 1)) / 3 - np.log(e * e + e + 1) / 6 - np.arctan((2 * e + 1) / np.sqrt(3)) / np.sqrt(3)
    return hn / s0 * (e + (1 - (hc / hn) ** 3) * phi)


def test_m1_backwater_matches_bresse():
    s0, chezy, width, q_unit, length = 1e-4, 50.0, 100_000.0, 5.0, 60_000.0
    chain = np.arange(0.0, length + 1, 250.0)
    # flat-bottomed rectangle; the glass walls at the ends are the banks (wide: R = h to 1e-4)
    prof = [(np.array([0.0, width / 2, width]), np.full(3, 100.0 - s0 * c)) for c in chain]
    sec = Sections.from_arrays(prof, chain, banks_m=[(0.0, width)] * chain.size, manning_n=(chezy,) * 3,
                               friction="chezy")
    hn = (q_unit ** 2 / (chezy ** 2 * s0)) ** (1 / 3)
    hc = (q_unit ** 2 / 9.81) ** (1 / 3)
    h_dam = 8.0
    ds = steady_profile(sec, q_unit * width, float(100.0 - s0 * length + h_dam))
    depth = (ds["stage"] - ds["bed"]).values
    x_dam = _bresse_x(h_dam, hn, hc, s0)
    exact = np.array([brentq(lambda h: length - (x_dam - _bresse_x(h, hn, hc, s0)) - c, hn * (1 + 1e-9), h_dam + 1e-9)
                      for c in chain])
    assert np.max(np.abs(depth - exact)) < 0.01, \
        "M1 curve within 1 cm of Bresse (source: standard step with dx = 250 m, second-order in dx, and the 8 m / 60 km curve: O(dx^2) error of a few mm)"
    assert depth[0] - hn > 0.2  # the test sees a real backwater, not normal depth
    assert np.all(np.diff(depth) > 0)
