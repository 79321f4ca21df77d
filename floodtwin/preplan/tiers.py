"""Response tiers: which tier a flow state calls for, with triggers and hysteresis.

Escalation is immediate: the tier is the highest of the discharge tier (observed or forecast) and
every active trigger (duration of high flow, a major danger at a works, water at a dike toe, an
order of the command). De-escalation waits: the flow must stay below the current tier's lower
threshold minus the margin (and no trigger may hold the tier) for the hold time. A fall over
several tiers steps down only through the tiers whose stand-down level the flow has been under
for the whole hold time (with the default tiers: from I after 6 h under 14,250 m³/s, but only to
II if the flow went under 9,500 m³/s less than 6 h ago). Each tier's clock is kept in
``TierDecision.below_since_by_tier``.
"""

from __future__ import annotations

from datetime import datetime

from floodtwin.errors import InputError, require_discharge_m3s
from floodtwin.preplan.model import PreplanModel
from floodtwin.preplan.state import FlowState, TierDecision

__all__ = ["fmt_q", "tier_index", "evaluate"]


def fmt_q(discharge_m3s: float) -> str:
    """Discharge as "22,000 m³/s"."""
    return f"{discharge_m3s:,.0f} m³/s"


def tier_index(model: PreplanModel, discharge_m3s: float, margin_fraction: float = 0.0) -> int:
    """Index of the highest tier whose lower threshold x (1 - margin) the discharge reaches."""
    index = 0
    for i, tier in enumerate(model.tiers):
        if discharge_m3s >= tier.min_discharge_m3s * (1.0 - margin_fraction):
            index = i
    return index


def _hours(later: datetime | None, earlier: datetime | None) -> float:
    if later is None or earlier is None:
        return 0.0
    return (later - earlier).total_seconds() / 3600.0


def evaluate(model: PreplanModel, state: FlowState) -> TierDecision:
    """Decide the tier for ``state`` (see the module docstring); raise InputError on bad state."""
    obs, fc = state.observed_m3s, state.forecast_m3s
    values = [v for v in (obs, fc) if v is not None]
    if not values:
        raise InputError("flow state has neither an observed nor a forecast discharge")
    for name, v in (("observed", obs), ("forecast", fc)):
        if v is not None:
            require_discharge_m3s(v, name=f"{name} discharge")
    prev = state.previous
    if prev is not None and state.time is not None:
        kept = [t for t in (prev.time, prev.above_since, prev.below_since) if t is not None]
        kept += [t for _, t in prev.below_since_by_tier]
        if any((t.tzinfo is None) != (state.time.tzinfo is None) for t in kept):
            raise InputError(f"flow state time {state.time.isoformat()} and the previous decision's times "
                             f"mix time-zone-aware and naive times: use one kind for a whole series")
    if prev is not None and state.time is not None and prev.time is not None and state.time < prev.time:
        raise InputError(f"flow state time {state.time.isoformat()} is before the previous decision's "
                         f"{prev.time.isoformat()}")
    ids = [t.id for t in model.tiers]
    rank = {t: i for i, t in enumerate(ids)}
    q = max(values)
    flow_idx = tier_index(model, q)

    # candidate raises: (rank, trigger, reason en, reason zh); the first of the highest rank wins
    cands: list[tuple[int, str, str, str]] = []
    tier_of = model.tiers[flow_idx]
    low_q = fmt_q(tier_of.min_discharge_m3s)
    if fc is not None and (obs is None or fc > obs) and tier_index(model, fc) > tier_index(model, obs or 0.0):
        cands.append((flow_idx, "forecast", f"forecast {fmt_q(fc)} ≥ {low_q} (tier {tier_of.id})",
                      f"预报流量{fmt_q(fc)}≥{low_q}（{tier_of.name_zh}）"))
    elif flow_idx > 0:
        # the value the reason names is the one that sets this tier: the observed flow when it is in the
        # tier (a higher forecast in the same tier changes nothing), else the forecast
        if obs is not None and tier_index(model, obs) == flow_idx:
            kind_en, kind_zh, q_named = "observed", "实测流量", obs
        else:
            kind_en, kind_zh, q_named = "forecast", "预报流量", q
        cands.append((flow_idx, "discharge", f"{kind_en} {fmt_q(q_named)} ≥ {low_q} (tier {tier_of.id})",
                      f"{kind_zh}{fmt_q(q_named)}≥{low_q}（{tier_of.name_zh}）"))
    else:
        first = fmt_q(model.tiers[1].min_discharge_m3s) if len(model.tiers) > 1 else ""
        cands.append((0, "discharge", f"{fmt_q(q)} below {first}" if first else fmt_q(q),
                      f"流量{fmt_q(q)}，低于{first}" if first else f"流量{fmt_q(q)}"))

    dur = model.triggers.duration
    q_dur = obs if obs is not None else fc
    above_since = None
    if q_dur >= dur.min_discharge_m3s:
        above_since = prev.above_since if prev is not None and prev.above_since is not None else state.time
    days = state.duration_days
    if days is None:
        days = _hours(state.time, above_since) / 24.0 if above_since is not None else 0.0
    if q_dur >= dur.min_discharge_m3s and days > dur.days:
        cands.append((rank[dur.tier], "duration",
                      f"flow ≥ {fmt_q(dur.min_discharge_m3s)} for {days:.1f} days (more than {dur.days:g})",
                      f"流量≥{fmt_q(dur.min_discharge_m3s)}已持续{days:.1f}天（超过{dur.days:g}天）"))
    wd = model.triggers.works_danger
    for danger in state.dangers:
        if danger.severity in wd.severities:
            where = f"works {danger.works_id}" + (f" spur {danger.spur_id}" if danger.spur_id else "")
            where_zh = f"工程{danger.works_id}" + (f"（{danger.spur_id}）" if danger.spur_id else "")
            source_zh = {"stone": "智能石头报警", "report": "现场报告"}.get(danger.source, danger.source)
            cands.append((rank[wd.tier], "works_danger",
                          f"{danger.severity} danger ({danger.kind}, from {danger.source}) at {where}",
                          f"{where_zh}发生重大险情（{danger.kind}，来自{source_zh}）"))
            break
    toe = model.triggers.dike_toe_water
    if state.risk is not None:
        wet = sorted(s for s, d in state.risk.segment_toe_depth_m.items() if d is not None and d > toe.min_depth_m)
        if wet:
            names = ", ".join(wet[:3]) + (", …" if len(wet) > 3 else "")
            cands.append((rank[toe.tier], "dike_toe_water",
                          f"water at the dike toe of {len(wet)} segment(s) ({names}) from the {state.risk.source}",
                          f"{len(wet)}段堤防水到堤脚（{names}），据{state.risk.source}"))
    if state.command_tier is not None:
        if state.command_tier not in rank:
            raise InputError(f"command order for unknown tier '{state.command_tier}' (tiers: {', '.join(ids)})")
        if model.triggers.command_order.enabled:
            note = f": {state.command_note}" if state.command_note else ""
            note_zh = f"：{state.command_note}" if state.command_note else ""
            cands.append((rank[state.command_tier], "command", f"order of the flood command{note}",
                          f"防汛指挥部命令{note_zh}"))

    target, trigger, reason, reason_zh = max(cands, key=lambda c: c[0])  # max keeps the first of equal ranks
    active = tuple(f"{c[1]}: {c[2]}" for c in cands if c[0] > 0)
    hold_idx = max([tier_index(model, q, model.hysteresis.margin_fraction)] +
                   [c[0] for c in cands if c[1] not in ("discharge", "forecast")])

    def decide(idx: int, trig: str, why: tuple[str, str], since: dict[str, datetime]) -> TierDecision:
        tier = model.tiers[idx]
        kept = tuple((ids[r], since[ids[r]]) for r in range(1, idx + 1) if ids[r] in since)
        return TierDecision(tier=tier.id, colour=tier.colour, rank=idx, reason=why[0], trigger=trig,
                            discharge_m3s=float(q), flow_tier=ids[flow_idx], observed_m3s=obs, forecast_m3s=fc,
                            time=state.time, above_since=above_since, below_since=since.get(tier.id),
                            active_triggers=active, reason_zh=why[1], below_since_by_tier=kept)

    # the previous decision is read by its tier id (its rank may come from an older version of the plan)
    prev_rank = rank.get(prev.tier) if prev is not None else None
    if prev_rank is None or target > prev_rank:
        return decide(target, trigger, (reason, reason_zh), {})
    margin = model.hysteresis.margin_fraction
    hold_h = model.hysteresis.hold_h

    def stand_down_level(r: int) -> str:
        return fmt_q(model.tiers[r].min_discharge_m3s * (1.0 - margin))

    # since when the state has called for less than each tier above hold_idx (a tier's clock keeps
    # running from the previous decision, else it starts now); nested: a lower tier's clock is younger
    since: dict[str, datetime] = {}
    if state.time is not None:
        before = dict(prev.below_since_by_tier)
        if prev.below_since is not None:
            before.setdefault(prev.tier, prev.below_since)
        for r in range(hold_idx + 1, prev_rank + 1):
            since[ids[r]] = before.get(ids[r], state.time)
    if hold_idx >= prev_rank:
        if target == prev_rank:
            return decide(target, trigger, (reason, reason_zh), since)
        return decide(prev_rank, "hold",
                      (f"{prev.tier} held: {fmt_q(q)} is within the {margin:.0%} margin "
                       f"(stand-down below {stand_down_level(prev_rank)})",
                       f"维持{prev.tier}级：{fmt_q(q)}在{margin:.0%}回差之内"
                       f"（低于{stand_down_level(prev_rank)}方可降级）"), since)
    # the state calls for a lower tier: step down as far as each tier's hold time has passed
    waited = {r: _hours(state.time, since[ids[r]]) if ids[r] in since else 0.0
              for r in range(hold_idx + 1, prev_rank + 1)}
    low = stand_down_level(prev_rank)
    if (state.time is None and hold_h > 0) or waited[prev_rank] < hold_h:
        return decide(prev_rank, "hold",
                      (f"{prev.tier} held: below {low} for {waited[prev_rank]:g} h of the {hold_h:g} h hold "
                       f"(now {fmt_q(q)})",
                       f"维持{prev.tier}级：低于{low}仅{waited[prev_rank]:g}小时，"
                       f"未满{hold_h:g}小时（现{fmt_q(q)}）"), since)
    new_idx = prev_rank
    while new_idx > hold_idx and waited[new_idx] >= hold_h:
        new_idx -= 1
    new = model.tiers[new_idx]
    why_en = (f"stand down from {prev.tier} to {new.id}: below {low} for {waited[prev_rank]:g} h "
              f"(hold {hold_h:g} h); now {fmt_q(q)}")
    why_zh = (f"由{prev.tier}级降为{new.name_zh}：低于{low}已{waited[prev_rank]:g}小时"
              f"（需{hold_h:g}小时），现{fmt_q(q)}")
    if new_idx > hold_idx:  # the flow has not been under this tier's stand-down level long enough yet
        why_en += f"; {new.id} held: below {stand_down_level(new_idx)} for {waited[new_idx]:g} h of {hold_h:g} h"
        why_zh += f"；{new.name_zh}维持：低于{stand_down_level(new_idx)}仅{waited[new_idx]:g}小时"
    return decide(new_idx, "stand_down", (why_en, why_zh), since)
