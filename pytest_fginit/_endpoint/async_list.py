"""ListAsyncInvocations' answer: an emulator's asynchronous requests, filtered and paged as the
API does (async-invocation reference, A29-A31). [test process]

[assumption] The time window (``query_begin_time``, ``query_end_time``) is not applied: every
request of the emulator is in it (a test's requests are all from the last hour on its clock,
and the virtual clock may have moved years ahead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from ..async_records import AsyncInvocation
from .routes import ApiError

_STATUSES = ("WAIT", "RUNNING", "SUCCESS", "FAIL", "DISCARD")
BAD_QUERY = ApiError(400, "FSS.0400", "Invalid parameter.")


def async_list_body(requests: Sequence[AsyncInvocation], query: str,
                    epoch_of: Callable[[float], float]) -> dict[str, Any] | ApiError:
    """The ``{"invocations", "count", "next_marker"}`` body, or the refusal of a bad query."""
    given = {key: values[-1] for key, values in parse_qs(query).items()}
    status, request_id = given.get("status"), given.get("request_id")
    marker, limit = given.get("marker", "0"), given.get("limit", "100")
    if (status is not None and status not in _STATUSES) or not marker.isdigit() \
            or not limit.isdigit() or not 1 <= int(limit) <= 500:
        return BAD_QUERY
    chosen = [r for r in requests if (status is None or r.status == status)
              and (request_id is None or r.request_id == request_id)]
    start = int(marker)
    page = chosen[start:start + int(limit)]
    return {"invocations": [_item(r, epoch_of) for r in page], "count": len(chosen),
            "next_marker": start + len(page)}


def _item(request: AsyncInvocation, epoch_of: Callable[[float], float]) -> dict[str, Any]:
    error = request.error if request.status in ("FAIL", "DISCARD") else None
    attempts = request.attempts
    start = _time(epoch_of(attempts[0].started_at)) if attempts else ""
    end = _time(epoch_of(request.ended_at)) if request.ended_at is not None else ""
    code = error.code if error is not None and isinstance(error.code, int) else 0
    return {"request_id": request.request_id, "status": request.status,
            "error_message": error.message if error is not None else "",
            "error_code": code, "start_time": start, "end_time": end}


def _time(seconds: float) -> str:
    """A29: ``YYYY-MM-DD'T'HH:mm:ss``, UTC."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
