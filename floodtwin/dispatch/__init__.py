"""Dispatch: every task of the plan to a person, acknowledged, done, verified and closed.

- ``store``: the SQLite file (WAL, per-component schema versions, BEGIN IMMEDIATE with retry).
- ``schema``: the dispatch tables and their migrations; UTC text timestamps.
- ``roster``: staff and grids of the reach, kept in the database for assignment.
- ``board``: ``submit`` / ``activate`` (idempotent by key, diff stands down), assignment, the state
  machine, SLA timers and escalation (``tick``), recurring rounds, one-click ``push``.
- ``notify``: the outbox (same transaction as the change) and its delivery: webhook (HMAC-signed,
  idempotency key), log file, SMTP; retries with exponential backoff.
- ``reports``: field reports (patrols, dangers of DOMAIN.md §5), their tasks, ``active_major_dangers``,
  the GeoJSON map layer.
- ``plan``: the preplan put into effect for a flow (``activate_discharge``).
- ``settings``: the dispatch YAML (``--config`` / ``$FLOODTWIN_CONFIG``); ``receiver``: a reference
  webhook receiver that checks signatures and recognises repeated keys.
"""
