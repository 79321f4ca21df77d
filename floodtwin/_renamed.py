"""Deprecated argument names of the public API, kept for one release (units in names: DESIGN).

``@renamed(depth0="depth0_m")`` lets a caller still pass ``depth0=``: it warns with a
:class:`DeprecationWarning` that names the new argument and passes the value on under the new name.
Passing both names is an :class:`~floodtwin.errors.InputError`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from floodtwin.errors import InputError

__all__ = ["renamed", "rename_kwargs"]


def rename_kwargs(where: str, kwargs: dict[str, Any], old_to_new: dict[str, str], *,
                  stacklevel: int = 3) -> dict[str, Any]:
    """``kwargs`` with every deprecated name replaced by its new one (warning once per call and name);
    ``stacklevel`` as in :func:`warnings.warn`, counted from here (3: the caller of a decorated
    function)."""
    for old, new in old_to_new.items():
        if old in kwargs:
            if new in kwargs:
                raise InputError(f"{where}: give {new} only ({old} is its deprecated name)")
            warnings.warn(f"{where}: argument {old!r} is deprecated, use {new!r} (the old name goes in the next "
                          "release)", DeprecationWarning, stacklevel=stacklevel)
            kwargs[new] = kwargs.pop(old)
    return kwargs


def renamed(**old_to_new: str) -> Callable:
    """Decorator: accept the deprecated keyword names ``old_to_new`` (old -> new) of the function."""

    def decorate(fn: Callable) -> Callable:
        where = fn.__qualname__.replace(".__init__", "")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **rename_kwargs(where, kwargs, old_to_new))

        wrapper.__deprecated_names__ = dict(old_to_new)
        return wrapper

    return decorate
