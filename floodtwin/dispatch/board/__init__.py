"""The task board: create, assign, track and escalate every task instruction until it is closed.

States: ``pending → dispatched → acknowledged → in_progress → done → verified → closed``, or
``cancelled`` / ``stood_down`` from any open state (a verifier may also send ``done`` back to
``in_progress``). Every change runs in one transaction together with its event-log row and its
outbox rows, so a crash leaves either all of it or none of it.

Assignment: the task's grid and owner role pick the on-duty staff of the current shift with the
fewest open tasks; nobody available → the grid leader, then the parent grid's leader, then the
town command (兜底). SLA timers (docs/reach.md §1, configured in the dispatch YAML) run from dispatch:
acknowledge, set out, on site and reported, handled by the task's deadline; :func:`tick` finds the
ones missed by more than the grace period (``sla.grace_min``) and moves each task one step up the
chain per tick (member → leader → town command → its named superior, never to whoever holds it;
"no one above" is recorded), with one digest notification per person per tick
(:func:`~floodtwin.dispatch.board.timers.tick_report`; docs/dispatch.md).

Who may act (:func:`~floodtwin.dispatch.board.states.who_may`): the assignees acknowledge, start,
report on site and done; the grid's leader, a leader above or the town command verify, reject and
close, never their own work; only the command cancels. A refused action is one line and a
``refused`` event.

Parts: ``states`` (the states and the actions between them), ``assign`` (who does a task),
``submit`` (onto the board; activations), ``timers`` (SLA timers, escalation, recurring rounds),
``queries`` (lists, one task, the event log, one-click push); ``_common`` is what they share.
"""

from __future__ import annotations

from floodtwin.dispatch.board._common import log_event, task_instruction
from floodtwin.dispatch.board.assign import choose_assignee, current_shift, deadline_min, escalation_chain
from floodtwin.dispatch.board.queries import events, list_tasks, push, show_task
from floodtwin.dispatch.board.states import (ACTIVE_STATES, FINISHED_STATES, OPEN_STATES, STATE_COLOURS, STATES,
                                             TRANSITIONS, ack, cancel, close, done, on_site, refusal, require_actor,
                                             resolve_key, short_ids, start, transition, verify, who_may)
from floodtwin.dispatch.board.submit import Activation, activate, submit, submit_in_transaction, validate_instructions
from floodtwin.dispatch.board.timers import TIMERS, missed_timers, tick, tick_report, timer_due

__all__ = ["STATES", "OPEN_STATES", "ACTIVE_STATES", "FINISHED_STATES", "TRANSITIONS", "TIMERS", "STATE_COLOURS",
           "Activation", "current_shift", "escalation_chain", "choose_assignee", "deadline_min",
           "validate_instructions", "submit", "submit_in_transaction", "activate", "log_event", "resolve_key",
           "transition", "timer_due", "missed_timers", "tick", "list_tasks", "show_task", "task_instruction",
           "push", "events", "ack", "start", "on_site", "done", "verify", "close", "cancel", "who_may", "refusal",
           "require_actor", "short_ids", "tick_report"]
