"""The configuration of a test's function, kept for the next test that asks the same.
[test process]

Every test that uses ``fg_function`` builds a `FunctionConfig` from its markers and ini: in a
suite, nearly always the same fields, and their checks (paths resolved, files looked up,
values normalized) were a sixth of what the fixture cost. A `FunctionConfig` is immutable, so
the same one can serve each test whose fields are equal, as long as the files it checked are
unchanged (the handler's file: its size and modification time). The warnings its construction
gave (a runtime that is not the test's Python) are given again to each test, as a new
construction would.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from typing import Any

from .config import FunctionConfig

_KEPT: dict[bytes, tuple[FunctionConfig, tuple[int, int] | None, list[Any]]] = {}
_MOST = 64  # (a suite has a few functions; more distinct configurations are not kept)


def config_for(fields: Mapping[str, Any]) -> FunctionConfig:
    """``FunctionConfig.from_fields(fields)``, or the one built for equal fields before."""
    key = _key(fields)
    kept = _KEPT.get(key) if key is not None else None
    if kept is not None and _stamp(kept[0]) == kept[1]:
        for warning in kept[2]:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
        return kept[0]
    with warnings.catch_warnings(record=True) as given:
        warnings.simplefilter("always")
        config = FunctionConfig.from_fields(fields)
    for warning in given:  # (as they would have been shown, now that they were recorded)
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    if key is not None and len(_KEPT) < _MOST:
        _KEPT[key] = (config, _stamp(config), list(given))
    return config


def _key(fields: Mapping[str, Any]) -> bytes | None:
    """A digest of the fields (secrets among them: only their digest is kept), or ``None``
    for fields that are not plain data (then nothing is kept)."""
    try:
        text = json.dumps(fields, sort_keys=True, default=_plain)
    except (TypeError, ValueError):
        return None
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _plain(value: Any) -> str:
    if isinstance(value, os.PathLike):
        return f"path:{os.fspath(value)}"
    raise TypeError(type(value).__name__)


def _stamp(config: FunctionConfig) -> tuple[int, int] | None:
    path = config.handler_path
    if path is None:
        return None
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
