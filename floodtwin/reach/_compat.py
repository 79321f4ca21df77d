"""Deprecated argument names kept for one release (``floodtwin.reach._compat``).

Public arguments carry their unit in the name (DESIGN: ``discharge_m3s``, ``stage_m``); where a name
changed, the old keyword still works for one release and warns (DeprecationWarning), so callers
have that release to update.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable, TypeVar

from floodtwin.errors import InputError

__all__ = ["renamed_arguments"]

F = TypeVar("F", bound=Callable)


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword of ``old_to_new`` as its new name, with a DeprecationWarning;
    giving both is an InputError."""
    def wrap(func: F) -> F:
        @functools.wraps(func)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InputError(f"{func.__qualname__}: give {new} only ({old} is its deprecated name)")
                    warnings.warn(f"{func.__qualname__}({old}=...) is deprecated, use {new}= (the old name "
                                  f"goes in the next release)", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap
