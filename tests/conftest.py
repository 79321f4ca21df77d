"""Fixtures shared across the test folders: the Huayuankou reach, its preplan, the smart-stone
registry and alarm thresholds, each loaded once per test module from the repository's data."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def reach():
    """The Huayuankou reach (layers, terrain, parameters) from data/reach/huayuankou."""
    from floodtwin.reach import load_reach

    return load_reach("huayuankou")


@pytest.fixture(scope="module")
def plan():
    """The repository's preplan (data/preplans/huayuankou.yaml)."""
    from floodtwin.preplan import Preplan

    return Preplan.load()


@pytest.fixture(scope="module")
def registry():
    """The 249 smart stones of the reach's stones layer."""
    from floodtwin.sensors.registry import load_registry

    return load_registry("huayuankou")


@pytest.fixture(scope="module")
def th():
    """The smart-stone alarm thresholds (data/sensors/thresholds.yaml)."""
    from floodtwin.sensors.alarms import load_thresholds

    return load_thresholds()
