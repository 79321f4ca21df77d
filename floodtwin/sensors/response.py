"""What a root-stone alarm sets in motion: the task instructions of the preplan's remedy.

A stone displaced or lost at a works means root-stone loss (根石走失) at that spur: throw stone
(riprap, 抛石) and lead-wire gabions (铅丝笼) there, brought from the nearest depot, and patrol the
works more often (DOMAIN.md §4, §5). Keys are deterministic (one emergency per spur, one patrol
per works), so a second stone at the same spur, or a stone going from displaced to lost, adds
nothing already on the board.
"""

from __future__ import annotations

from floodtwin.sensors.alarms import MAJOR, Response
from floodtwin.sensors.registry import Stone
from floodtwin.tasks import Material, TaskInstruction, task_key

__all__ = ["TIER", "OWNER_ROLE", "STATE_ZH", "rootstone_instructions"]

TIER = "sensor"
OWNER_ROLE = "team_member"
STATE_ZH = {"displaced": "位移", "lost": "走失"}


def rootstone_instructions(stone: Stone, state: str, response: Response, *, evidence_note: str = "") \
        -> list[TaskInstruction]:
    """Instructions for ``stone`` having reached ``state`` (``displaced`` or ``lost``): move riprap
    and gabions from the nearest depot, throw them at the spur, intensify the works patrol."""
    if state not in MAJOR:
        raise ValueError(f"no root-stone response for state {state!r}")
    q = getattr(response, state)
    spur_zh = f"{stone.works_name_zh}{stone.spur_number}号坝"
    spur_en = f"{stone.works_name_en} spur {stone.spur_number}"
    depot_zh = stone.depot_name_zh or "最近料场"
    depot_en = stone.depot_name_en or "the nearest depot"
    location = (stone.x_m, stone.y_m)
    transport_key = task_key("sensor.rootstone_materials", "spur", stone.spur_id)
    emergency_key = task_key("sensor.rootstone_loss", "spur", stone.spur_id)
    patrol_key = task_key("sensor.works_patrol", "works", stone.works_id)
    materials = (Material("riprap", float(q.riprap_m3), "m3", stone.depot_id),
                 Material("gabions", float(q.gabions), "each", stone.depot_id))
    evidence_zh = f"智能石头{stone.stone_id}报{STATE_ZH[state]}。"
    evidence_en = f"smart stone {stone.stone_id} reports {state}. "
    common = dict(tier=TIER, owner_role=OWNER_ROLE, grid_id=stone.grid_id, works_id=stone.works_id,
                  source="sensor", extra={"stone_id": stone.stone_id, "spur_id": stone.spur_id, "state": state})
    transport = TaskInstruction(
        key=transport_key, template_id="sensor.rootstone_materials", category="materials",
        title_zh=f"调运抛石{q.riprap_m3:g}立方米、铅丝笼{q.gabions}个：{depot_zh}至{spur_zh}",
        title_en=f"move {q.riprap_m3:g} m³ riprap and {q.gabions} gabions from {depot_en} to {spur_en}",
        deadline_min=response.transport_deadline_min, scope_kind="spur", scope_id=stone.spur_id,
        materials=materials, location=location,
        note_zh=evidence_zh + (f"距离约{stone.depot_distance_m / 1000:.1f}公里。" if stone.depot_distance_m else ""),
        note_en=evidence_en + (f"Distance about {stone.depot_distance_m / 1000:.1f} km. " if stone.depot_distance_m
                               else "") + evidence_note,
        **common)
    emergency = TaskInstruction(
        key=emergency_key, template_id="sensor.rootstone_loss", category="works_emergency",
        title_zh=f"根石走失：{spur_zh}，抛石、抛铅丝笼加固",
        title_en=f"root-stone loss at {stone.works_name_en} spur {stone.spur_number}: throw riprap and gabions",
        deadline_min=q.deadline_min, scope_kind="spur", scope_id=stone.spur_id, depends_on=(transport_key,),
        materials=materials, location=location,
        note_zh=evidence_zh + "探摸根石，抛石、抛铅丝笼至坡度恢复。",
        note_en=evidence_en + "Sound the root stones; throw riprap and gabions until the slope is restored. "
        + evidence_note,
        **common)
    patrol = TaskInstruction(
        key=patrol_key, template_id="sensor.works_patrol", category="patrol",
        title_zh=f"加密巡查：{stone.works_name_zh}每{response.patrol_repeat_min:g}分钟一次",
        title_en=f"intensify patrols at {stone.works_name_en}: a round every {response.patrol_repeat_min:g} min",
        deadline_min=response.patrol_deadline_min, scope_kind="works", scope_id=stone.works_id,
        repeat_min=response.patrol_repeat_min, location=location,
        note_zh=evidence_zh + "重点查看根石、坝坡和坝顶裂缝。",
        note_en=evidence_en + "Watch root stones, spur slopes and crest cracks.",
        **common)
    return [transport, emergency, patrol]
