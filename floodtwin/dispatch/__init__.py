"""Dispatch: every task of the plan to a person, acknowledged, done, verified and closed.

- ``schema``: the dispatch tables and their migrations (in the one database file, :mod:`floodtwin.db`).
- ``roster``: staff and grids of the reach, kept in the database for assignment.
- ``board``: a package: ``submit`` / ``activate`` (idempotent by key, diff stands down), ``assign``,
  ``states`` (the state machine), ``timers`` (SLA timers, escalation ``tick``, recurring rounds),
  ``queries`` (lists, history, one-click ``push``).
- ``notify``: the outbox (same transaction as the change) and its delivery: webhook (HMAC-signed,
  idempotency key), log file, SMTP; retries with exponential backoff.
- ``settings``: the dispatch YAML (``--config`` / ``$FLOODTWIN_CONFIG``); ``receiver``: a reference
  webhook receiver that checks signatures and recognises repeated keys.

Built on top of dispatch: field reports (:mod:`floodtwin.reports`) and the orchestrator that puts
the preplan and the stones' alarms on the board (:mod:`floodtwin.alerts`).
"""
