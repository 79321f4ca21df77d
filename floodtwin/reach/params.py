"""The reach parameter file (data/dikes/<reach>.yaml) as a validated pydantic model.

Every number carries its unit and its source label (S published, D derived from data, E estimate),
so that ``floodtwin reach info`` can say where each figure comes from and a user with better data
knows which ones to replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from floodtwin.config import StrictModel, load_yaml

__all__ = ["Param", "ReachSection", "ChannelSection", "RatingSection", "FloodplainSection", "DikeSection",
           "WorksEntry", "CountedSection", "StaffSection", "UnitsSection", "StonesSection", "DemSection", "TABLE_COLUMNS",
           "ReachParams", "load_params"]


class Param(StrictModel):
    """One parameter: its value, unit and source label."""

    value: Any
    unit: str
    source: Literal["S", "D", "E"]
    note: str = ""


def _positive(p: Param, name: str) -> Param:
    if not isinstance(p.value, (int, float)) or p.value <= 0:
        raise ValueError(f"{name} must be a positive number")
    return p


class ReachSection(StrictModel):
    length_m: Param
    town_length_m: Param
    town_start_m: Param
    town_area_km2: Param
    right_dike_lonlat: Param
    dike_spacing_m: Param
    land_margin_m: Param

    @field_validator("right_dike_lonlat")
    @classmethod
    def _lonlat(cls, p: Param) -> Param:
        pts = p.value
        if not isinstance(pts, list) or len(pts) < 2 or any(len(q) != 2 for q in pts):
            raise ValueError("expected a list of at least two [lon, lat] pairs")
        for lon, lat in pts:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"[{lon}, {lat}] is not a longitude/latitude pair")
        return p


class ChannelSection(StrictModel):
    width_m: Param
    bank_slope_width_m: Param
    centre_from_right_dike_m: Param
    slope: Param

    @field_validator("width_m", "bank_slope_width_m", "slope")
    @classmethod
    def _pos(cls, p: Param, info) -> Param:
        return _positive(p, info.field_name)


class RatingSection(StrictModel):
    points: Param
    bankfull_discharge_m3s: Param
    design_discharge_m3s: Param

    @field_validator("points")
    @classmethod
    def _monotonic(cls, p: Param) -> Param:
        pts = p.value
        if not isinstance(pts, list) or len(pts) < 2:
            raise ValueError("expected at least two [discharge, stage] pairs")
        q = [a for a, _ in pts]
        z = [b for _, b in pts]
        if any(b <= a for a, b in zip(q, q[1:])) or any(b <= a for a, b in zip(z, z[1:])):
            raise ValueError("rating points must rise in both discharge and stage")
        return p


class FloodplainSection(StrictModel):
    manning_n: Param
    lip_height_m: Param
    transverse_slope: Param
    max_transverse_drop_m: Param
    levee_fill_ramp_m: Param | None = None


class DikeSection(StrictModel):
    freeboard_m: Param
    crest_width_m: Param
    side_slope: Param
    land_below_bed_m: Param
    post_spacing_m: Param
    floodplain_strip_m: Param
    land_strip_m: Param


class WorksEntry(StrictModel):
    id: str
    name_zh: str
    name_en: str
    kind: Literal["dike_works", "control_works"]
    bank: Literal["right", "left"]
    chainage_from_m: Param
    chainage_to_m: Param
    structures: Param
    crest_m: Param
    root_depth_m: Param
    spur_length_m: Param
    stones: Param
    named_structures: Param | None = None

    @model_validator(mode="after")
    def _check(self) -> "WorksEntry":
        if self.chainage_to_m.value <= self.chainage_from_m.value:
            raise ValueError(f"works {self.id}: chainage_to_m must exceed chainage_from_m")
        if len(self.structures.value) != 3 or sum(self.structures.value[:2]) <= 0:
            raise ValueError(f"works {self.id}: structures must be [spurs, short spurs, revetments] with spurs")
        return self


class CountedSection(StrictModel):
    count: Param
    exclusive_count: Param
    rows: Param
    community_count: Param
    exclusive: Param

    @field_validator("exclusive")
    @classmethod
    def _rows(cls, p: Param) -> Param:
        width = TABLE_COLUMNS["exclusive"]
        if not isinstance(p.value, list) or any(not isinstance(r, list) or len(r) != width for r in p.value):
            raise ValueError(f"expected rows of {width} values (see its unit)")
        return p


class StaffSection(StrictModel):
    total: Param
    micro_grid_leaders: Param
    rural_grid_members: Param
    team_members_per_exclusive_grid: Param
    shifts: Param
    off_duty_every: Param


class UnitsSection(StrictModel):
    """The plan's units that are not grid staff (river bureau, works crews, materials group, rescue
    teams, traffic police liaison, the town command's duty room ...) and their duty rosters: rows
    of [unit id, name_zh, name_en, id prefix, works ("" for none), people per shift, base chainage m,
    base n m]; a unit may have several rows (one crew per works). Each unit gets one leader."""

    rosters: Param
    leader_on_duty: Param

    @field_validator("rosters")
    @classmethod
    def _rows(cls, p: Param) -> Param:
        width = TABLE_COLUMNS["units"]
        rows = p.value
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"expected a list of rows of {width} values (see its unit)")
        names: dict[str, tuple] = {}
        prefixes: dict[str, str] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"row {i + 1} has {len(row) if isinstance(row, list) else 'not a list'} values, "
                                 f"expected {width} (see its unit)")
            unit, name_zh, name_en, prefix, _works, per_shift = row[:6]
            if not isinstance(per_shift, int) or isinstance(per_shift, bool) or per_shift < 1:
                raise ValueError(f"row {i + 1} ({unit}): people per shift must be a whole number >= 1")
            if names.setdefault(unit, (name_zh, name_en, prefix)) != (name_zh, name_en, prefix):
                raise ValueError(f"row {i + 1} ({unit}): names and id prefix differ from the unit's first row")
            if prefixes.setdefault(prefix, unit) != unit:
                raise ValueError(f"row {i + 1} ({unit}): id prefix {prefix} is already {prefixes[prefix]}'s")
        return p


class StonesSection(StrictModel):
    total: Param
    report_interval_min: Param
    install_depth_fraction: Param


class DemSection(StrictModel):
    resolution_m: Param
    land_behind_right_m: Param


#: columns of each row of the tabular parameters (their ``unit`` names them)
TABLE_COLUMNS = {"villages": 12, "depots": 14, "gauges": 8, "key_points": 8, "exclusive": 8, "units": 8, "cameras": 7}


class ReachParams(StrictModel):
    """Everything in data/dikes/<reach>.yaml."""

    name: str
    name_zh: str
    crs: str
    reach: ReachSection
    channel: ChannelSection
    rating: RatingSection
    floodplain: FloodplainSection
    dikes: DikeSection
    works: list[WorksEntry] = Field(min_length=1)
    grids: CountedSection
    staff: StaffSection
    units: UnitsSection
    stones: StonesSection
    villages: Param
    depots: Param
    gauges: Param
    key_points: Param
    cameras: Param
    dem: DemSection

    @field_validator("villages", "depots", "gauges", "key_points", "cameras")
    @classmethod
    def _table(cls, p: Param, info) -> Param:
        width = TABLE_COLUMNS[info.field_name]
        rows = p.value
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"expected a list of rows of {width} values (see its unit)")
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                n = len(row) if isinstance(row, list) else "not a list"
                raise ValueError(f"row {i + 1} has {n} values, expected {width} (see its unit)")
        return p

    @model_validator(mode="after")
    def _totals(self) -> "ReachParams":
        stones = sum(int(w.stones.value) for w in self.works)
        if stones != int(self.stones.total.value):
            raise ValueError(f"works stones add up to {stones}, stones.total says {self.stones.total.value}")
        leaders = int(self.grids.count.value) + int(self.grids.exclusive_count.value)
        staff = (leaders + int(self.staff.micro_grid_leaders.value) + int(self.staff.rural_grid_members.value)
                 + sum(self.staff.team_members_per_exclusive_grid.value))
        if staff != int(self.staff.total.value):
            raise ValueError(f"staff roles add up to {staff}, staff.total says {self.staff.total.value}")
        if len(self.grids.exclusive.value) != int(self.grids.exclusive_count.value):
            raise ValueError("grids.exclusive must list exclusive_count grids")
        if int(self.grids.count.value) % int(self.grids.rows.value):
            raise ValueError("grids.count must be a multiple of grids.rows")
        return self


def load_params(path: str | Path) -> ReachParams:
    """Read and validate a reach parameter YAML (ConfigError naming file, line and key)."""
    return load_yaml(path, ReachParams)
