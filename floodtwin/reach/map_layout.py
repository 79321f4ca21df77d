"""Where things go on the reach map (``floodtwin.reach.map_layout``): the dike frame that the works detail
strips are drawn in, the strips' extents and rows on the page, the DEM sampled along them, and the
placement of labels that must not overlap. Geometry only; :mod:`floodtwin.reach.map` draws.

Split from ``floodtwin.reach.map`` so that the page drawing and its layout each stay under ~600 lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AROUND", "CALLOUT", "FAR", "Labeller", "STRIP_GAP_IN", "STRIP_MERGE_M", "STRIP_PAD_M", "Strip", "dike_frame",
           "sample_dem", "strip_rows", "strips_of", "to_sn"]

#: strips merge neighbouring works while the strip stays this short (m)
STRIP_MERGE_M = 4000.0
#: chainage margin of a strip beyond its works (m)
STRIP_PAD_M = 250.0
#: horizontal gap between strips side by side (in)
STRIP_GAP_IN = 0.85


# --------------------------------------------------------------------------------------------
# geometry helpers: the dike frame of the strips, DEM sampling
# --------------------------------------------------------------------------------------------
def dike_frame(dikes):
    """Chainage/offset frame of the right (town) dike line, from the dikes layer itself."""
    import shapely
    from shapely.geometry import LineString

    from floodtwin.reach.terrain import ReachFrame

    right = dikes[dikes.bank == "right"].sort_values("chainage_from_m")
    xy = np.concatenate([shapely.get_coordinates(g) for g in right.geometry])
    keep = np.concatenate([[True], np.hypot(*np.diff(xy, axis=0).T) > 1e-6])
    line = LineString(xy[keep])
    s = np.append(np.arange(0.0, line.length, 5.0), line.length)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    tangent = np.gradient(pts, s, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    s0 = float(right.chainage_from_m.iloc[0])
    return ReachFrame(s + s0, pts[:, 0], pts[:, 1], tangent[:, 0], tangent[:, 1])


def to_sn(frame, geoms):
    """Geometries in map coordinates -> the same geometries in (chainage, offset) coordinates."""
    import shapely

    def flip(xy):
        s, n = frame.to_sn(xy[:, 0], xy[:, 1])
        return np.column_stack([s, n])

    return shapely.transform(np.asarray(geoms), flip)


def sample_dem(dem, x, y) -> np.ndarray:
    """Bilinear DEM elevations at map points (NaN outside the DEM or next to a NaN cell)."""
    xs = dem.x.values
    ys = dem.y.values
    z = dem.values
    if ys[0] > ys[-1]:
        ys, z = ys[::-1], z[::-1]
    fx = (np.asarray(x) - xs[0]) / (xs[1] - xs[0])
    fy = (np.asarray(y) - ys[0]) / (ys[1] - ys[0])
    i = np.clip(np.floor(fx).astype(int), 0, xs.size - 2)
    j = np.clip(np.floor(fy).astype(int), 0, ys.size - 2)
    wx = fx - i
    wy = fy - j
    out = (z[j, i] * (1 - wx) * (1 - wy) + z[j, i + 1] * wx * (1 - wy)
           + z[j + 1, i] * (1 - wx) * wy + z[j + 1, i + 1] * wx * wy)
    outside = (fx < 0) | (fx > xs.size - 1) | (fy < 0) | (fy > ys.size - 1)
    return np.where(outside, np.nan, out)


@dataclass
class Strip:
    """A detail strip: a chainage window along the dike and the works it shows."""

    letter: str
    s0: float
    s1: float
    n0: float
    n1: float
    works: list

    @property
    def ratio(self) -> float:
        return (self.s1 - self.s0) / (self.n1 - self.n0)

    def contains(self, s, n) -> np.ndarray:
        s = np.asarray(s)
        n = np.asarray(n)
        return (s >= self.s0) & (s <= self.s1) & (n >= self.n0) & (n <= self.n1)


def strips_of(L, frame) -> list[Strip]:
    """One strip per works, neighbours merged while short; offsets fitted to what lies around them."""
    import shapely

    works = L["works"].sort_values("chainage_from_m")
    groups: list[list] = []
    for w in works.itertuples():
        if groups and w.chainage_to_m - groups[-1][0].chainage_from_m <= STRIP_MERGE_M:
            groups[-1].append(w)
        else:
            groups.append([w])
    # points and exclusive grids that a strip should show when they lie near its works
    near = [L["depots"].geometry, L["key_points"].geometry, L["gauges"].geometry,
            L["grids"][L["grids"].level == "exclusive"].geometry]
    xy_near = np.concatenate([shapely.get_coordinates(np.asarray(g)) for g in near])
    s_near, n_near = frame.to_sn(xy_near[:, 0], xy_near[:, 1])
    strips = []
    for k, group in enumerate(groups):
        s0 = min(w.chainage_from_m for w in group) - STRIP_PAD_M
        s1 = max(w.chainage_to_m for w in group) + STRIP_PAD_M
        xy = np.concatenate([shapely.get_coordinates(w.geometry) for w in group])
        _, n = frame.to_sn(xy[:, 0], xy[:, 1])
        n0, n1 = float(n.min()) - 150.0, float(n.max()) + 150.0
        pick = (s_near >= s0) & (s_near <= s1) & (n_near > n0 - 1000.0) & (n_near < n1 + 1000.0)
        if pick.any():
            n0 = min(n0, float(n_near[pick].min()) - 80.0)
            n1 = max(n1, float(n_near[pick].max()) + 120.0)
        strips.append(Strip(chr(ord("A") + k), float(s0), float(s1), n0, n1, group))
    return strips



# --------------------------------------------------------------------------------------------
# labels that do not overlap
# --------------------------------------------------------------------------------------------
class Labeller:
    """Greedy label placement: each label takes the first candidate offset that overlaps nothing placed."""

    def __init__(self, fig, ax):
        self.ax = ax
        self.renderer = fig.canvas.get_renderer()
        self.taken = []

    def block_points(self, x, y, radius_px: float = 5.0) -> None:
        from matplotlib.transforms import Bbox

        for px, py in self.ax.transData.transform(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])):
            self.taken.append(Bbox([[px - radius_px, py - radius_px], [px + radius_px, py + radius_px]]))

    def take(self, t) -> None:
        """Reserve the room of a label drawn without placement."""
        from matplotlib.text import Text

        t.update_positions(self.renderer)
        self.taken.append(Text.get_window_extent(t, self.renderer).padded(1.5))

    def place(self, text: str, xy, candidates, *, optional: bool = False, leader: str | None = None, **kw):
        from matplotlib.text import Text

        box = self.ax.get_window_extent(self.renderer)
        fallback = None  # first candidate inside the axes, else the very first: where a forced label goes
        for dx, dy, ha, va in candidates:
            arrow = dict(arrowstyle="-", color=leader, lw=0.8, shrinkA=0, shrinkB=2) if leader else None
            t = self.ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                 arrowprops=arrow, **kw)
            t.update_positions(self.renderer)  # resolve the offset into display coordinates
            if t.get_bbox_patch() is not None:
                t.update_bbox_position_size(self.renderer)
                bb = t.get_bbox_patch().get_window_extent(self.renderer).padded(1.5)
            else:
                bb = Text.get_window_extent(t, self.renderer).padded(1.5)
            inside = box.x0 <= bb.x0 and bb.x1 <= box.x1 and box.y0 <= bb.y0 and bb.y1 <= box.y1
            if inside and not any(bb.overlaps(o) for o in self.taken):
                if fallback is not None:
                    fallback[0].remove()
                self.taken.append(bb)
                return t
            if not optional and (fallback is None or (inside and not fallback[2])):
                if fallback is not None:
                    fallback[0].remove()
                fallback = (t, bb, inside)
            else:
                t.remove()
        if fallback is not None:
            self.taken.append(fallback[1])
            return fallback[0]
        return None


AROUND = [(7, 4, "left", "bottom"), (7, -4, "left", "top"), (-7, 4, "right", "bottom"),
          (-7, -4, "right", "top"), (0, 9, "center", "bottom"), (0, -9, "center", "top"),
          (14, 14, "left", "bottom"), (-14, -14, "right", "top"), (14, -14, "left", "top"),
          (-14, 14, "right", "bottom")]
FAR = [(30, 22, "left", "bottom"), (-30, 22, "right", "bottom"), (30, -22, "left", "top"),
       (-30, -22, "right", "top"), (0, 34, "center", "bottom"), (0, -34, "center", "top"),
       (48, 0, "left", "center"), (-48, 0, "right", "center")]
CALLOUT = [(0, 46, "center", "bottom"), (-60, 40, "center", "bottom"), (60, 40, "center", "bottom"),
           (0, 84, "center", "bottom"), (-90, 70, "center", "bottom"), (90, 70, "center", "bottom"),
           (0, 120, "center", "bottom"), (0, -46, "center", "top")]


def strip_rows(strips: list[Strip], width_in: float) -> list[tuple[list[tuple[Strip, float]], float]]:
    """Rows of strips: a long strip alone, short ones two to a row; widths so that a row shares a height."""
    rows, pending = [], []
    longest = max(st.s1 - st.s0 for st in strips)
    for st in strips:
        if st.s1 - st.s0 > 0.5 * longest:
            rows.append([st])
        else:
            pending.append(st)
            if len(pending) == 2:
                rows.append(pending)
                pending = []
    if pending:
        rows.append(pending)
    out = []
    for row in rows:
        usable = width_in - STRIP_GAP_IN * (len(row) - 1)
        total = sum(st.ratio for st in row)
        h = min(usable / total, 3.2)
        out.append(([(st, h * st.ratio) for st in row], h))
    return out
