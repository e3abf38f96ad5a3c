"""What the ``fg_context`` fixture returns: FunctionGraph ``Context`` objects for plain unit
tests of a handler, built from field values without an emulator. [test process]
"""

from __future__ import annotations

import time
from typing import Any

from ._config_checks import normalize_field
from ._redaction import redactor
from .config import SECRET_FIELDS
from .context import Context

_CONTEXT_EXTRAS = ("package", "project_id", "version", "alias", "access_key", "secret_key",
                   "security_token", "token")
"""fg_context's keyword arguments beyond the named ones: the rest of Context's fields."""


def make_context(
    *,
    request_id: str = "00000000-0000-4000-8000-000000000000",
    func_name: str = "function",
    timeout: int = 3,
    memory_size: int = 128,
    user_data: dict[str, str] | None = None,
    encrypted_user_data: dict[str, str] | None = None,
    **more: Any,
) -> Context:
    unknown = sorted(set(more) - set(_CONTEXT_EXTRAS))
    if unknown:
        raise TypeError(
            f"fg_context(): unknown field {unknown[0]!r}; allowed: request_id, func_name, "
            "timeout, memory_size, user_data, encrypted_user_data, "
            + ", ".join(_CONTEXT_EXTRAS)
        )
    # The remaining time counts down on whatever clock the test sees (freezegun included).
    start = time.monotonic()
    return Context(
        request_id=request_id,
        func_name=normalize_field("func_name", func_name),
        timeout=normalize_field("timeout", timeout),
        memory_size=normalize_field("memory_size", memory_size),
        user_data=normalize_field("user_data", user_data or {}),
        encrypted_user_data=normalize_field("encrypted_user_data", encrypted_user_data or {}),
        remaining_ms=lambda: max(0, int((start + timeout - time.monotonic()) * 1000)),
        now=lambda: time.time(),
        redact=redactor([*(encrypted_user_data or {}).values(),
                         *(v for k, v in more.items() if k in SECRET_FIELDS)]),
        **more,
    )
