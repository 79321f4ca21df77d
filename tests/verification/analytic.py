"""Analytic solutions of the shallow-water equations used by the verification tests and the benchmark.

Formulas as collected in SWASHES (Delestre et al. 2013, Int. J. Numer. Meth. Fluids 72): Stoker's
dam break on a wet bed, Ritter's on a dry bed, and Thacker's planar surface in a paraboloid.
Depths in m, velocities in m/s, g = 9.81 m s⁻².
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

G = 9.81


def stoker_middle_celerity(h_left_m: float, h_right_m: float) -> float:
    """c_m = √(g h_m) of the middle state: root of −8 g h_r c² (√(g h_l) − c)² + (c² − g h_r)²(c² + g h_r)."""
    def f(c: float) -> float:
        return (-8.0 * G * h_right_m * c**2 * (np.sqrt(G * h_left_m) - c) ** 2
                + (c**2 - G * h_right_m) ** 2 * (c**2 + G * h_right_m))
    return brentq(f, np.sqrt(G * h_right_m), np.sqrt(G * h_left_m), xtol=1e-15, rtol=1e-15)


def dam_break_depth(x_m: np.ndarray, t_s: float, *, x0_m: float, h_left_m: float, h_right_m: float) -> np.ndarray:
    """Depth of the frictionless dam break at time t: Stoker (h_right > 0) or Ritter (h_right = 0)."""
    x = np.asarray(x_m, dtype=np.float64)
    cl = np.sqrt(G * h_left_m)
    xi = (x - x0_m) / t_s
    h = np.where(xi <= -cl, h_left_m, 4.0 / (9.0 * G) * (cl - xi / 2.0) ** 2)
    if h_right_m <= 0.0:
        return np.where(xi >= 2.0 * cl, 0.0, h)
    cm = stoker_middle_celerity(h_left_m, h_right_m)
    x_a = 2.0 * cl - 3.0 * cm  # tail of the rarefaction
    shock = 2.0 * cm**2 * (cl - cm) / (cm**2 - G * h_right_m)
    h = np.where(xi <= x_a, h, cm**2 / G)
    return np.where(xi >= shock, h_right_m, h)


def thacker_planar(x_m: np.ndarray, y_m: np.ndarray, t_s: float, *, a_m: float = 1.0, h0_m: float = 0.1,
                   eta: float = 0.5, length_m: float = 4.0):
    """Thacker's planar surface in a paraboloid (SWASHES §4.2.2): bed, depth, u, v at time t.

    Bed z = −h0 (1 − r²/a²) about the centre of [0, L]²; ω = √(2 g h0)/a.
    """
    xc = np.asarray(x_m) - length_m / 2.0
    yc = np.asarray(y_m) - length_m / 2.0
    r2 = xc**2 + yc**2
    z = -h0_m * (1.0 - r2 / a_m**2)
    omega = np.sqrt(2.0 * G * h0_m) / a_m
    eta_s = eta * h0_m / a_m**2 * (2.0 * xc * np.cos(omega * t_s) + 2.0 * yc * np.sin(omega * t_s) - eta)
    h = np.maximum(eta_s - z, 0.0)
    wet = h > 0
    u = np.where(wet, -eta * omega * np.sin(omega * t_s), 0.0)
    v = np.where(wet, eta * omega * np.cos(omega * t_s), 0.0)
    return z, h, u, v


def thacker_period_s(a_m: float = 1.0, h0_m: float = 0.1) -> float:
    return 2.0 * np.pi * a_m / np.sqrt(2.0 * G * h0_m)
