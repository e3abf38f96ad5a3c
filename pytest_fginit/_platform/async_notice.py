"""The record a destination receives when an asynchronous request ends (section 5 of the
reference, A34-A42). [test process]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .._async_config import AsyncPolicy
from ..async_records import AsyncInvocation

MAX_ASYNC_BODY_BYTES = 262144
"""An async request body, and a result that is still returned, are at most 256 KB (A6, A7)."""


def notification(request: AsyncInvocation, *, policy: AsyncPolicy, function_urn: str,
                 epoch_of: Callable[[float], float]) -> dict[str, Any]:
    """The record of a finished request (A34-A42); ``epoch_of`` turns the emulator's elapsed
    seconds into seconds since the epoch."""
    last = request.attempts[-1] if request.attempts else None
    started = last.started_at if last is not None else (request.ended_at or 0.0)
    if request.status == "SUCCESS":
        condition, status_code, payload = "", 200, _result_text(last.result if last else None)
    elif request.status == "DISCARD" or last is None or last.error is None:
        # [assumption] A16, A40: an event whose age ran out has no response; 500 says that
        # the platform, not the function, ended it.
        condition, status_code, payload = "EventAgeExceeded", 500, ""
    else:
        condition, status_code = "UnhandledInvocationError", 500
        payload = json.dumps(last.error.to_body(), indent=2, ensure_ascii=False)
    retries = max(len(request.attempts) - 1, 0)
    return {
        "timestamp": _rfc3339(epoch_of(started)),
        "request_context": {
            "request_id": request.request_id,
            "function_urn": function_urn,
            "condition": condition,
            "approximate_invoke_count": (retries if policy.invoke_count == "retries"
                                         else len(request.attempts)),
        },
        "request_payload": json.dumps(request.event, ensure_ascii=False),
        "response_context": {"status_code": status_code, "function_error": ""},
        "response_payload": payload,
    }


def _result_text(result: Any) -> str:
    """A42: a str result as is, any other as its JSON text; "" over 256 KB (A7)."""
    as_json = json.dumps(result, ensure_ascii=False)
    text = result if isinstance(result, str) else as_json
    over = len(as_json.encode()) > MAX_ASYNC_BODY_BYTES
    return "" if over else text


def _rfc3339(seconds: float) -> str:
    """A34: RFC 3339 with 9 fractional digits and ``+00:00``."""
    whole = int(seconds // 1)
    nanos = round((seconds - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}+00:00"
