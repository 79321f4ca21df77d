"""The task instruction: one concrete "who does what, where, by when" of the flood plan.

Shared by the preplan engine (which expands templates into instructions), alerts and field
reports (which add instructions), and dispatch (which assigns and tracks them). An instruction's
``key`` is deterministic: the same template applied to the same scope object at the same tier
gives the same key, so activating the same situation twice creates nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from floodtwin.errors import InputError

__all__ = ["CATEGORIES", "MATERIALS", "MaterialKind", "Material", "TaskInstruction", "task_key", "require_material"]

#: Task categories of the plan (code -> Chinese, English).
CATEGORIES: dict[str, tuple[str, str]] = {
    "patrol": ("巡堤查险", "dike patrol"),
    "works_emergency": ("工程抢险", "works emergency"),
    "evacuation": ("迁安救护", "evacuation and rescue"),
    "materials": ("物资调配", "materials"),
    "information": ("信息发布", "information release"),
    "traffic": ("交通管制", "traffic closure"),
    "command": ("指挥调度", "command and dispatch"),
}


@dataclass(frozen=True)
class MaterialKind:
    """One flood-fighting material: its unit, names and the depots-layer column that stocks it."""

    unit: str
    name_zh: str
    name_en: str
    depot_column: str


#: The one materials table: item -> unit, names and depot column. The preplan's templates, the
#: danger table and the smart-stone response name materials by these items only (docs/reach.md §4-5:
#: quarry stone for riprap (抛石), lead-wire gabions (铅丝笼), bags for plugging and filter wells).
MATERIALS: dict[str, MaterialKind] = {
    "stone": MaterialKind("m3", "块石", "quarry stone (riprap)", "stone_m3"),
    "gabions": MaterialKind("piece", "铅丝笼", "lead-wire gabions", "gabions"),
    "sandbags": MaterialKind("bag", "编织袋装土袋", "sandbags", "sandbags"),
    "woven_bags": MaterialKind("bag", "编织袋", "woven bags", "woven_bags"),
    "life_jackets": MaterialKind("piece", "救生衣", "life jackets", "life_jackets"),
    "lifebuoys": MaterialKind("piece", "救生圈", "lifebuoys", "lifebuoys"),
    "lights": MaterialKind("piece", "照明灯", "lights", "lights"),
    "boats": MaterialKind("piece", "冲锋舟", "boats", "boats"),
}


def require_material(item: str, unit: str | None = None, *, where: str = "material") -> MaterialKind:
    """The table entry of ``item``; an InputError naming ``where`` if the item is unknown or ``unit``
    (when given) is not the table's unit for it."""
    kind = MATERIALS.get(item)
    if kind is None:
        raise InputError(f"{where}: unknown material {item!r} (one of {', '.join(MATERIALS)})")
    if unit is not None and unit != kind.unit:
        raise InputError(f"{where}: {item} is counted in {kind.unit}, not {unit!r}")
    return kind


def task_key(template_id: str, scope_kind: str | None, scope_id: str | None, *extra: str) -> str:
    """Deterministic id of an instruction: template and scope object (and any extra qualifier)."""
    parts = [template_id, scope_kind or "-", scope_id or "-", *extra]
    digest = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:10]
    return f"{template_id}:{scope_id or 'all'}:{digest}"


@dataclass(frozen=True)
class Material:
    """A quantity of one material to move from a depot (``depot_id`` None: nearest depot).

    ``item`` is a key of :data:`MATERIALS` and ``unit`` its unit there (checked when instructions
    are validated, ``require_material``)."""

    item: str
    quantity: float
    unit: str
    depot_id: str | None = None


@dataclass(frozen=True)
class TaskInstruction:
    """One task of the plan, rendered for one scope object (a grid, works, spur, village, ...).

    ``deadline_min`` counts from activation; ``repeat_min`` is set for recurring rounds;
    ``grid_id`` is the grid whose staff carry it out (None for town-level units);
    ``depends_on`` holds keys of instructions that must be done first.
    """

    key: str
    template_id: str
    category: str
    tier: str
    owner_role: str
    title_zh: str
    title_en: str
    deadline_min: float
    scope_kind: str | None = None
    scope_id: str | None = None
    grid_id: str | None = None
    works_id: str | None = None
    repeat_min: float | None = None
    depends_on: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()
    location: tuple[float, float] | None = None  # (x, y) in the reach CRS, metres
    note_zh: str = ""
    note_en: str = ""
    source: str = "preplan"  # preplan | sensor | report | command
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def title(self, lang: str = "en") -> str:
        """The instruction text in ``lang`` ("zh" or "en")."""
        return self.title_zh if lang == "zh" else self.title_en

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (materials as dicts, tuples as lists)."""
        d = asdict(self)
        d["depends_on"] = list(self.depends_on)
        d["materials"] = [asdict(m) for m in self.materials]
        d["location"] = list(self.location) if self.location is not None else None
        return d
