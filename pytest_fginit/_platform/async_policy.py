"""The asynchronous invocation configuration of a function, checked, and the record its
destinations receive (A12-A16, A20-A25, A34-A42). [test process]

Every figure the platform does not publish is an **[assumption]** of the reference, kept here
as a default that a test may change: the failure-retry intervals (A15), the throttle schedule
(A11), and what ``approximate_invoke_count`` counts (A38).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ..errors import FunctionConfigError
from ..records import AsyncInvocation
from .destinations import Destination, parse_destination

MAX_ASYNC_BODY_BYTES = 262144
"""An async request body, and a result that is still returned, are at most 256 KB (A6, A7)."""
_AGE_RANGE, _RETRY_RANGE = (1, 86400), (0, 3)


@dataclass(frozen=True)
class AsyncPolicy:
    """How a function's asynchronous requests are retried, aged and reported."""

    configured: bool = False
    """Whether the function has an async configuration at all: without one, a failed request
    runs once (A12); with one, ``max_async_retry_attempts`` defaults to 1 (A21)."""
    max_async_event_age_in_seconds: int = 3600
    max_async_retry_attempts: int = 1
    on_success: Destination | None = None
    on_failure: Destination | None = None
    retry_intervals: tuple[float, ...] = (60.0, 120.0, 180.0)
    """[assumption] A15: the wait before the 1st, 2nd and 3rd retry after a failure."""
    throttle_first: float = 1.0
    throttle_cap: float = 300.0
    """[assumption] A11: a throttled attempt is put back after 1 s, doubling, at most 300 s."""
    invoke_count: Literal["retries", "attempts"] = "retries"
    """[assumption] A38: ``approximate_invoke_count`` is the number of retries made."""

    @property
    def retries(self) -> int:
        return self.max_async_retry_attempts if self.configured else 0

    def retry_wait(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based) after a failed attempt."""
        intervals = self.retry_intervals
        return float(intervals[min(retry, len(intervals)) - 1])

    def throttle_wait(self, times: int) -> float:
        """The wait after the ``times``-th throttled attempt (1-based)."""
        return min(self.throttle_first * 2.0 ** (times - 1), self.throttle_cap)


def async_policy(max_async_event_age_in_seconds: Any = None,
                 max_async_retry_attempts: Any = None, async_on_success: Any = None,
                 async_on_failure: Any = None) -> AsyncPolicy:
    """An `AsyncPolicy` from configuration keys (``None``: not given), each checked against
    the API's range (A20, A21): a clear `FunctionConfigError` names the key otherwise."""
    given = (max_async_event_age_in_seconds, max_async_retry_attempts, async_on_success,
             async_on_failure)
    age = _whole("max_async_event_age_in_seconds", max_async_event_age_in_seconds, _AGE_RANGE,
                 3600)
    retries = _whole("max_async_retry_attempts", max_async_retry_attempts, _RETRY_RANGE, 1)
    return AsyncPolicy(
        configured=any(v is not None for v in given),
        max_async_event_age_in_seconds=age, max_async_retry_attempts=retries,
        on_success=parse_destination("async_on_success", async_on_success),
        on_failure=parse_destination("async_on_failure", async_on_failure))


def _whole(name: str, value: Any, bounds: tuple[int, int], default: int) -> int:
    if value is None:
        return default
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FunctionConfigError(name, f"{value!r} is out of range; allowed: a whole number "
                                        f"from {low} to {high} [FSS.0400]")
    return value


# --- the record sent to a destination (section 5 of the reference) ----------------------------

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
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    over = len(json.dumps(result, ensure_ascii=False).encode()) > MAX_ASYNC_BODY_BYTES
    return "" if over else text


def _rfc3339(seconds: float) -> str:
    """A34: RFC 3339 with 9 fractional digits and ``+00:00``."""
    whole = int(seconds // 1)
    nanos = round((seconds - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}+00:00"
