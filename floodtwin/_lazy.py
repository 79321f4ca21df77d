"""Lazy public APIs: a package lists ``name -> "module:attribute"`` and imports it on first use.

Keeps ``import floodtwin`` and ``floodtwin --help`` free of numba, geopandas and xarray.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def attach(package: str, table: dict[str, str], namespace: dict[str, Any]) -> tuple[Callable, Callable, list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package`` resolving names through ``table``.

    A resolved attribute is cached in the package's ``namespace`` (its ``globals()``), so the import
    machinery runs once per name.
    """

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, attr = target.split(":")
        value = getattr(importlib.import_module(module_name), attr)
        namespace[name] = value
        return value

    names = sorted(table)

    def __dir__() -> list[str]:
        return names + [k for k in namespace if k.startswith("__") and k.endswith("__")]

    return __getattr__, __dir__, names
