"""Dispatch configuration: SLA timers and their grace, duty shifts, the town command and its superior,
the escalation digest, notifiers, delivery retries.

One YAML file, given by ``--config`` or ``$FLOODTWIN_CONFIG``, else the example shipped in
``data/config/dispatch.yaml``. The dispatch settings live under ``dispatch:`` and the notifiers
under ``notifiers:``; both are validated strictly (unknown keys are errors). Other top-level
sections are left to the components that own them, so one file can configure a whole station.
Relative paths (log files) resolve against the folder of the database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from floodtwin.config import DATA_DIR, StrictModel, load_yaml
from floodtwin.errors import ConfigError
from floodtwin.tasks import CATEGORIES

__all__ = ["MESSAGE_KINDS", "DEFAULT_GRACE_MIN", "DEFAULT_CATEGORY_ORDER", "SlaSettings", "ShiftSettings",
           "Superior", "TownCommand", "DigestSettings", "DeliverySettings", "DispatchSettings", "WebhookNotifier", "LogNotifier", "SmtpNotifier", "DispatchConfig",
           "default_config_path", "load_config"]

#: Message kinds a notifier can subscribe to.
MESSAGE_KINDS = ("dispatched", "reopened", "escalated", "stood_down", "cancelled", "push", "danger_report",
                 "mode_switch")

#: minutes past a timer's due time before it escalates, for configuration files written before the
#: setting existed (the shipped dispatch.yaml states it, with the reason)
DEFAULT_GRACE_MIN = 3.0
#: task categories, most urgent first, for configuration files that do not order them
DEFAULT_CATEGORY_ORDER = ("works_emergency", "evacuation", "patrol", "traffic", "materials", "command",
                          "information")


class SlaSettings(StrictModel):
    """The grid model's emergency timing rule (minutes after dispatch)."""

    ack_min: float = Field(gt=0)
    set_out_min: float = Field(gt=0)
    on_site_min: float = Field(gt=0)
    handle_min: float = Field(gt=0)
    #: categories whose tasks need someone on site (set-out and on-site timers apply)
    field_categories: tuple[str, ...]
    #: minutes past a timer's due time before a tick escalates it (the timer is overdue from its due time)
    grace_min: float = Field(default=DEFAULT_GRACE_MIN, ge=0, le=60)


class ShiftSettings(StrictModel):
    """One duty shift in local time; ``end`` before ``start`` wraps past midnight."""

    id: str
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class Superior(StrictModel):
    """The person above the town command (e.g. the district flood command's duty leader): where the
    town command's own tasks, and tasks the town command already holds, escalate to."""

    id: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    #: how to reach them (phone, mailbox, app id): shown in their digest and in the tick's summary
    contact: str = Field(min_length=1)


class TownCommand(StrictModel):
    """The fallback (兜底) unit at the end of the grid chain, and whom it answers to."""

    id: str
    name_zh: str
    name_en: str
    #: the person above the town command; None: no one above (a missed timer of a task the town
    #: command holds is recorded as "no one above" and its holders reminded)
    superior: Superior | None = None

    @field_validator("superior")
    @classmethod
    def _not_itself(cls, value: Superior | None, info: Any) -> Superior | None:
        if value is not None and value.id == info.data.get("id"):
            raise ValueError(f"the superior must be someone else than the town command {value.id}")
        return value


class DigestSettings(StrictModel):
    """The escalation digest: one message per person per tick, the tasks that matter most first."""

    #: task categories, most urgent first (a category not listed comes after the listed ones)
    category_order: tuple[str, ...] = DEFAULT_CATEGORY_ORDER
    #: how many tasks the text of a digest names (all of them are in its structured list)
    top_tasks: int = Field(default=5, ge=1, le=50)

    @field_validator("category_order")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)} (expected some of {', '.join(CATEGORIES)})")
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice")
        return value


class DeliverySettings(StrictModel):
    """Outbox delivery: attempts and exponential backoff between them."""

    max_attempts: int = Field(ge=1)
    backoff_base_s: float = Field(gt=0)
    backoff_max_s: float = Field(gt=0)
    lease_s: float = Field(gt=0)


class DispatchSettings(StrictModel):
    sla: SlaSettings
    utc_offset_h: float = Field(ge=-12, le=14)
    shifts: tuple[ShiftSettings, ...] = Field(min_length=1)
    town_command: TownCommand
    digest: DigestSettings = DigestSettings()
    delivery: DeliverySettings
    #: owner units of the plan (not grid staff) whose located tasks go to the staff of this role in the
    #: exclusive grid (专属网格) that covers the place, e.g. works_team -> team_member
    unit_staff_role: dict[str, str] = Field(default_factory=dict)


class _NotifierBase(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    #: message kinds this notifier receives (default: all)
    events: tuple[Literal[MESSAGE_KINDS], ...] = MESSAGE_KINDS  # type: ignore[valid-type]


class WebhookNotifier(_NotifierBase):
    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=5.0, gt=0)
    #: shared secret for the HMAC-SHA256 signature, inline or (better) from an environment variable
    secret: str | None = None
    secret_env: str | None = None

    def shared_secret(self) -> bytes:
        """The signing secret; a configured but unset environment variable is an error."""
        if self.secret_env:
            value = os.environ.get(self.secret_env)
            if not value:
                raise ConfigError(f"notifier {self.name}: environment variable {self.secret_env} is not set")
            return value.encode("utf-8")
        if self.secret:
            return self.secret.encode("utf-8")
        raise ConfigError(f"notifier {self.name}: webhook needs secret or secret_env")


class LogNotifier(_NotifierBase):
    kind: Literal["log"]
    path: str


class SmtpNotifier(_NotifierBase):
    kind: Literal["smtp"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    to: tuple[str, ...] = Field(min_length=1)
    timeout_s: float = Field(default=10.0, gt=0)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None


Notifier = Annotated[WebhookNotifier | LogNotifier | SmtpNotifier, Field(discriminator="kind")]


class DispatchConfig(StrictModel):
    """The parts of the station configuration that dispatch reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dispatch: DispatchSettings
    notifiers: tuple[Notifier, ...] = ()

    @field_validator("notifiers")
    @classmethod
    def _unique_names(cls, value: tuple) -> tuple:
        names = [n.name for n in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"notifier names must be unique, repeated: {', '.join(dup)}")
        return value


def default_config_path() -> Path:
    """``$FLOODTWIN_CONFIG``, else the example configuration in the repository data folder."""
    env = os.environ.get("FLOODTWIN_CONFIG")
    return Path(env) if env else DATA_DIR / "config" / "dispatch.yaml"


def load_config(path: str | Path | None = None) -> DispatchConfig:
    """Read and validate the dispatch configuration (ConfigError naming file:line: key on problems)."""
    path = Path(path) if path is not None else default_config_path()
    return load_yaml(path, DispatchConfig, kind="dispatch configuration (dispatch: and notifiers:)")
