"""Dispatch load (issue 20.2): the most tasks any one person holds with deadlines in the same 10 minutes
after a level-I activation (the real preplan at 22,000 m³/s over the real reach and duty rosters), against
the cap the 3/5/10/30-minute rule allows (floor(on_site_min / ack_min) = 3), at 10:00 (shift A) and 22:00
(shift B); how many tasks have no named person; how many people carry them; and the wall time of the
activation (level-I tasks, assignment, the emergency mode it forces). Not a timed test: a figure.
Writes its section of benchmarks/RESULTS.md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_dispatch_load.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402
from _results import write_section  # noqa: E402

from floodtwin import alerts  # noqa: E402
from floodtwin.db import connect  # noqa: E402
from floodtwin.dispatch.board.queries import load_report  # noqa: E402
from floodtwin.dispatch.settings import load_config  # noqa: E402

NAME = "bench_dispatch_load.py"
CLOCKS = {"10:00 (shift A)": datetime(2026, 7, 20, 2, 0, tzinfo=UTC),
          "22:00 (shift B)": datetime(2026, 7, 20, 14, 0, tzinfo=UTC)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()
    config = load_config()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, t0 in CLOCKS.items():
            conn = connect(Path(tmp) / f"{t0:%H}.sqlite")
            start = time.perf_counter()
            decision, act = alerts.activate_discharge(conn, 22000, now=t0, actor="TOWN", reason="bench",
                                                      config=config)
            wall = time.perf_counter() - start
            rep = load_report(conn, config=config)
            total = conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
            rows.append((label, decision.tier, len(act.created), total, rep, wall))
            conn.close()
    load1 = os.getloadavg()[0]
    lines = [f"## Dispatch load: the most tasks one person holds due in the same 10 minutes (issue 20)",
             "",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load average {load1:.1f} · "
             f"`PYTHONPATH=. .venv/bin/python benchmarks/{NAME}`",
             "",
             "| clock | level | plan tasks | on the board (+ emergency mode) | most in 10 min (cap) | people at it "
             "| people holding tasks | tasks without a named person | activation wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, tier, created, total, rep, wall in rows:
        lines.append(f"| {label} | {tier} | {created} | {total} | {rep['max_tasks_in_window']} ({rep['cap']}) | "
                     f"{len(rep['people_at_max'])} | {rep['people_with_tasks']} | {sum(rep['unnamed_holders'].values())}"
                     f" | {wall:.2f} |")
    lines += ["", "The cap: each task of a 10-minute window (`on_site_min`) needs its holder's answer within "
              "`ack_min` (3 min): floor(10 / 3) = 3. The wall time includes reading the preplan and the reach "
              "tables and the emergency-mode switch the level forces (docs/dispatch.md)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(NAME, text)


if __name__ == "__main__":
    main()
