"""What an HTTP caller of an API Gateway API receives from a function (trigger-events
reference, section 4: G4-G8). [test process]

The handler's result is checked against the APIG contract (four keys and their types, base64
when ``isBase64Encoded``): a result that keeps it is the caller's status, headers and body;
one that breaks it is **500** with the reason. A function error is 500 too (G5
[assumption]), except a timeout, handler's or initializer's, which is **504** as a gateway
answers for a backend that did not answer in time ([assumption]); a request the platform
refused itself keeps its status (413, 429). These error bodies are the emulator's own,
``{"error_code": "FGINIT.APIG_...", "error_msg": ...}``: the platform documents none.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from ._events.apig import response_problem
from ._redaction import Redactor, no_redaction
from .errors import FunctionError

_TIMEOUTS = ("handler_timeout", "init_timeout")


class _Answered(Protocol):
    """What of an `Invocation` the view reads."""

    ok: bool
    result: Any
    error: FunctionError | None
    event: Any


Answer = tuple[int, dict[str, str], bytes, "str | None"]
"""Status, headers, body, and the reason API Gateway answered with an error (or ``None``)."""


def answer(invocation: _Answered, redact: Redactor = no_redaction) -> Answer:
    """The HTTP view of ``invocation`` (sent with an APIG event)."""
    request_id = _request_id(invocation.event)
    extra = {"X-Request-Id": request_id} if request_id else {}  # (G7: the one APIG header)
    error = invocation.error
    if error is not None:
        if error.by_platform:
            status = int(str(error.code).rpartition(".")[2])
        else:
            status = 504 if error.kind in _TIMEOUTS else 500
        reason = redact(f"{error.kind} ({error.code}): {error.message}")
        return _error(status, "FGINIT.APIG_FUNCTION_ERROR", reason, extra)
    result = invocation.result
    problem = response_problem(result)
    if problem is not None:
        return _error(500, "FGINIT.APIG_RESPONSE", redact(problem), extra)
    body = (base64.b64decode(result["body"]) if result["isBase64Encoded"]
            else result["body"].encode())
    headers = {str(k): str(v) for k, v in result["headers"].items()}
    headers.update(extra)  # (in place: the caller's headers, then APIG's)
    return result["statusCode"], headers, body, None


def _error(status: int, code: str, reason: str, extra: dict[str, str]) -> Answer:
    body = json.dumps({"error_code": code, "error_msg": reason}, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", **extra}, body, reason


def _request_id(event: Any) -> str | None:
    context = event.get("requestContext") if isinstance(event, dict) else None
    value = context.get("requestId") if isinstance(context, dict) else None
    return value if isinstance(value, str) else None
