"""Smart-stone monitoring: registry, readings and their validation, ingest (files, MQTT) and the
alarm state machine. What an alarm sets in motion on the board is :mod:`floodtwin.alerts`' part.

Imported lazily: ``floodtwin.sensors.active_major_dangers`` and friends load their module on
first use, so the CLI stays fast.
"""

from __future__ import annotations

from floodtwin._lazy import attach

_LAZY = {
    "active_major_dangers": "floodtwin.sensors.ingest:active_major_dangers",
    "Ingestor": "floodtwin.sensors.ingest:Ingestor",
    "Registry": "floodtwin.sensors.registry:Registry",
    "Stone": "floodtwin.sensors.registry:Stone",
    "load_registry": "floodtwin.sensors.registry:load_registry",
    "ensure_registry": "floodtwin.sensors.registry:ensure_registry",
    "Thresholds": "floodtwin.sensors.alarms:Thresholds",
    "load_thresholds": "floodtwin.sensors.alarms:load_thresholds",
    "open_db": "floodtwin.sensors.store:open_db",
    "simulate": "floodtwin.sensors.simulate:simulate",
    "status": "floodtwin.sensors.status:status",
    "quarantined": "floodtwin.sensors.status:quarantined",
}

__getattr__, __dir__, __all__ = attach(__name__, _LAZY, globals())
