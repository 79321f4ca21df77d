"""``floodtwin preplan``: check and show the plan, expand it into task instructions, diff, timeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

__all__ = ["app"]

app = typer.Typer(help="The preplan: response tiers and the task instructions of each flow level.",
                  no_args_is_help=True)

FileOpt = typer.Option(None, "--file", "-f", help="Preplan YAML (default: data/preplans/huayuankou.yaml).")
ReachOpt = typer.Option("huayuankou", "--reach", help="Reach name under data/dikes/ or a .gpkg path.")
LangOpt = typer.Option("en", "--lang", help="Language of the task texts: en or zh.")


def _lang(lang: str) -> str:
    from floodtwin.errors import InputError

    if lang not in ("en", "zh"):
        raise InputError(f"--lang {lang!r}: expected en or zh")
    return lang


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@app.command("check")
def check(path: Path = typer.Argument(..., help="Preplan YAML to validate.")) -> None:
    """Validate a preplan file (shape and meaning); print a summary, or one error line naming file:line: key."""
    from floodtwin.preplan import Preplan

    plan = Preplan.load(path)
    tiers = ", ".join(f"{t.id} ≥ {t.min_discharge_m3s:,.0f}" for t in plan.tiers)
    typer.echo(f"ok: {path}: {len(plan.tiers)} tiers ({tiers} m³/s), {len(plan.model.roles)} roles, "
               f"{len(plan.templates)} task templates")


@app.command("show")
def show(
    tier: Optional[str] = typer.Option(None, "--tier", help="Only the templates active at this tier."),
    file: Optional[Path] = FileOpt,
    lang: str = LangOpt,
) -> None:
    """Table of the tiers and task templates (all, or those active at --tier)."""
    from rich.markup import escape
    from rich.table import Table

    from floodtwin.preplan import Preplan
    from floodtwin.tasks import CATEGORIES

    lang = _lang(lang)
    plan = Preplan.load(file)
    templates = plan.templates_for(tier) if tier else plan.templates
    console = _console()
    tiers = Table(title=f"{plan.model.name_zh or plan.model.name}: response tiers ({plan.model.station} discharge)",
                  header_style="bold")
    for col in ("tier", "colour", "from m³/s", "below m³/s"):
        tiers.add_column(col)
    for t in plan.tiers:
        tiers.add_row(t.id, t.colour_zh if lang == "zh" else t.colour, f"{t.min_discharge_m3s:,.0f}",
                      "—" if t.max_discharge_m3s is None else f"{t.max_discharge_m3s:,.0f}")
    console.print(tiers)
    roles = {r.id: r for r in plan.model.roles}
    table = Table(title=f"task templates{f' active at tier {tier}' if tier else ''} ({len(templates)})",
                  header_style="bold")
    for col in ("id", "category", "tiers", "owner", "scope", "deadline", "repeat", "title"):
        table.add_column(col, overflow="fold")
    for tpl in templates:
        scope = tpl.scope.for_each or "reach"
        if tpl.scope.where:
            scope += f" where {tpl.scope.where}"
        repeat = (", ".join(f"{k}: {v:g}" for k, v in tpl.repeat_min.items()) if isinstance(tpl.repeat_min, dict)
                  else "" if tpl.repeat_min is None else f"{tpl.repeat_min:g}")
        cat = CATEGORIES[tpl.category][0 if lang == "zh" else 1]
        owner = roles[tpl.owner].name_zh if lang == "zh" else roles[tpl.owner].name_en
        tiers_txt = tpl.tier_from + (f"..{tpl.tier_to}" if tpl.tier_to else "+")
        table.add_row(escape(tpl.id), cat, tiers_txt, escape(owner), escape(scope), f"{tpl.deadline_min:g} min",
                      repeat, escape(tpl.title_zh if lang == "zh" else tpl.title_en))
    console.print(table)


def _check_q(option: str, value: Optional[float]) -> None:
    """A discharge option must be a discharge (``require_discharge_m3s``); InputError names the option."""
    from floodtwin.errors import require_discharge_m3s

    if value is not None:
        require_discharge_m3s(value, name=option)


def _decide(plan, option: str, discharge: float):
    from floodtwin.preplan import FlowState

    _check_q(option, discharge)
    return plan.evaluate(FlowState(observed_m3s=discharge))


def _tables(reach: str):
    from floodtwin.preplan import ReachTables

    return ReachTables.read(reach)


@app.command("tasks")
def tasks(
    discharge: float = typer.Option(..., "--discharge", "-q", help="Huayuankou discharge (m³/s)."),
    forecast: Optional[float] = typer.Option(None, "--forecast", help="Forecast discharge (m³/s)."),
    lang: str = LangOpt,
    as_json: bool = typer.Option(False, "--json", help='Print {"tier", "colour", "reason", "tasks": [...]}.'),
    file: Optional[Path] = FileOpt,
    reach: str = ReachOpt,
    risk: Optional[Path] = typer.Option(None, "--risk", help="JSON risk facts of a hydraulic run "
                                        "(village_max_depth_m, segment_freeboard_m, ... by id)."),
) -> None:
    """The task instructions for a discharge: tier, reason, the list by deadline, counts by category and owner.

    Without a hydraulic run (--risk), risk-driven scopes (flooded villages, dike freeboard) use the
    fallback rating rule, and each such task says so.
    """
    from floodtwin.preplan import FlowState, Preplan

    lang = _lang(lang)
    _check_q("--discharge", discharge)
    _check_q("--forecast", forecast)
    plan = Preplan.load(file)
    tables = _tables(reach)
    facts = _read_risk(risk).require_known(tables, where=str(risk)) if risk is not None else None
    decision = plan.evaluate(FlowState(observed_m3s=discharge, forecast_m3s=forecast, risk=facts))
    instructions = plan.tasks_for(decision, tables, risk=facts)
    if as_json:
        out = {"tier": decision.tier, "colour": decision.colour, "reason": decision.reason,
               "reason_zh": decision.reason_zh, "trigger": decision.trigger,
               "discharge_m3s": decision.discharge_m3s, "tasks": [t.to_dict() for t in instructions]}
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    _print_tasks(plan, decision, instructions, lang)


def _read_risk(path: Path):
    """RiskFacts from a JSON file; InputError names the file and the problem."""
    from floodtwin.errors import InputError
    from floodtwin.preplan import RiskFacts

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the risk facts: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    return RiskFacts.from_dict(data, where=str(path))


def _print_tasks(plan, decision, instructions, lang: str) -> None:
    from collections import Counter

    from rich.markup import escape
    from rich.table import Table

    from floodtwin.tasks import CATEGORIES

    console = _console()
    tier = plan.tier(decision.tier)
    name = tier.name_zh if lang == "zh" else tier.name_en
    colour = {"green": "green", "blue": "blue", "yellow": "yellow", "orange": "dark_orange", "red": "red"}.get(
        tier.colour, "white")
    if lang == "zh":
        console.print(f"[bold {colour}]{escape(name)}（{escape(tier.colour_zh)}）[/]："
                      f"{escape(decision.reason_zh)}；共{len(instructions)}条任务指令")
    else:
        console.print(f"[bold {colour}]{escape(name)} — {escape(tier.colour)}[/]: {escape(decision.reason)}; "
                      f"{len(instructions)} task instructions")
    # one plain line per task: a Rich table of 300 rows takes longer to lay out than the whole expansion
    lines = []
    for t in instructions:
        owner = t.extra.get("owner_zh" if lang == "zh" else "owner_en", t.owner_role)
        note = t.note_zh if lang == "zh" else t.note_en
        cat = CATEGORIES[t.category][0 if lang == "zh" else 1]
        if lang == "zh":
            repeat = "" if t.repeat_min is None else f"，每{t.repeat_min:g}分钟一次"
            lines.append(f"{t.deadline_min:>5g}分钟  【{cat}】{owner}：{t.title_zh}{repeat}"
                         + (f"（{note}）" if note else ""))
        else:
            repeat = "" if t.repeat_min is None else f", every {t.repeat_min:g} min"
            lines.append(f"{t.deadline_min:>5g} min  [{cat}] {owner}: {t.title_en}{repeat}"
                         + (f" ({note})" if note else ""))
    console.file.write("\n".join(lines) + "\n")
    counts = Table(title="counts", header_style="bold")
    counts.add_column("by category")
    counts.add_column("n", justify="right")
    counts.add_column("by owner")
    counts.add_column("n", justify="right")
    by_cat = sorted(Counter(t.category for t in instructions).items(), key=lambda kv: -kv[1])
    by_owner = sorted(Counter(t.extra.get("owner_zh" if lang == "zh" else "owner_en", t.owner_role)
                              for t in instructions).items(), key=lambda kv: -kv[1])
    for i in range(max(len(by_cat), len(by_owner))):
        c = by_cat[i] if i < len(by_cat) else ("", "")
        o = by_owner[i] if i < len(by_owner) else ("", "")
        counts.add_row(CATEGORIES[c[0]][0 if lang == "zh" else 1] if c[0] else "", str(c[1]), escape(o[0]),
                       str(o[1]))
    console.print(counts)


@app.command("diff")
def diff_cmd(
    from_q: float = typer.Option(..., "--from", help="Discharge before (m³/s)."),
    to_q: float = typer.Option(..., "--to", help="Discharge after (m³/s)."),
    lang: str = LangOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the diff as JSON."),
    file: Optional[Path] = FileOpt,
    reach: str = ReachOpt,
) -> None:
    """The to-do list update between two discharges: tasks to activate, to stand down, unchanged."""
    from rich.markup import escape

    from floodtwin.preplan import Preplan, diff

    lang = _lang(lang)
    _check_q("--from", from_q)
    _check_q("--to", to_q)
    plan = Preplan.load(file)
    tables = _tables(reach)
    before_d, after_d = _decide(plan, "--from", from_q), _decide(plan, "--to", to_q)
    result = diff(plan.tasks_for(before_d, tables), plan.tasks_for(after_d, tables))
    if as_json:
        out = {"from": before_d.to_dict(), "to": after_d.to_dict(),
               **{k: [t.key for t in getattr(result, k)] for k in ("activate", "stand_down", "unchanged", "updated")}}
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    console = _console()
    console.print(f"{from_q:,.0f} → {to_q:,.0f} m³/s: tier {before_d.tier} → {after_d.tier} "
                  f"({escape(after_d.reason)})")
    console.print(f"activate {len(result.activate)}, stand down {len(result.stand_down)}, "
                  f"unchanged {len(result.unchanged)} (of which {len(result.updated)} updated)")
    for label, items, mark in (("activate", result.activate, "[green]+[/]"),
                               ("stand down", result.stand_down, "[red]-[/]"),
                               ("updated", result.updated, "[yellow]~[/]")):
        if items:
            console.print(f"[bold]{label}[/]")
            for t in items:
                repeat = f" (every {t.repeat_min:g} min)" if t.repeat_min else ""
                console.print(f" {mark} {t.deadline_min:>5g} min  {escape(t.title(lang))}{repeat}")


@app.command("timeline")
def timeline(
    flows: Path = typer.Argument(..., help="CSV with time, discharge_m3s[, forecast_m3s] (or date, station, ...)."),
    station: Optional[str] = typer.Option(None, "--station", help="Rows of this station only (long tables)."),
    as_json: bool = typer.Option(False, "--json", help='Print [{"time", "tier", "reason"}, ...] for every row.'),
    file: Optional[Path] = FileOpt,
    lang: str = LangOpt,
) -> None:
    """Walk a flow series through the tier logic (hysteresis, duration trigger); print each tier change."""
    from rich.markup import escape

    from floodtwin.preplan import Preplan
    from floodtwin.preplan.timeline import changes, read_flows, walk

    lang = _lang(lang)
    plan = Preplan.load(file)
    rows = read_flows(flows, station)
    decisions = walk(plan.model, rows)
    if as_json:
        out = [{"time": r.time.isoformat(), "discharge_m3s": r.discharge_m3s, "forecast_m3s": r.forecast_m3s,
                "tier": d.tier if d else None, "reason": d.reason if d else "no discharge yet",
                "reason_zh": d.reason_zh if d else "尚无流量"}
               for r, d in zip(rows, decisions)]
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    console = _console()
    found = changes(rows, decisions)
    console.print(f"{len(rows)} rows from {rows[0].time.isoformat()} to {rows[-1].time.isoformat()}; "
                  f"{len(found) - 1 if found else 0} tier changes")
    for row, dec in found:
        q = "—" if row.discharge_m3s is None else f"{row.discharge_m3s:,.0f}"
        reason = dec.reason_zh if lang == "zh" else dec.reason
        console.print(f"{row.time.isoformat()}  {q:>7} m³/s  [bold]{escape(dec.tier):>6}[/]  {escape(reason)}")
