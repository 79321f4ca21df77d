"""Dispatch: the SQLite store, the task board (states, SLA timers, escalation) and notifications."""
