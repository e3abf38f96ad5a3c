"""What FunctionGraph's synchronous invoke API answers for an invocation (reference, section 4).

``POST .../invocations`` with ``X-CFF-Request-Version: v1``: a JSON body with the request id,
the result as a string, the log framed by the runtime's Start/Finish lines, and a status; the
headers carry the invocation summary, the billed duration and whether the function failed. A
request the platform refuses itself (FSS.0413) gets an API error instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._redaction import Redactor, no_redaction

if TYPE_CHECKING:
    from .records import Invocation


@dataclass(frozen=True, repr=False)
class ApiResponse:
    """One synchronous invoke API response."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    _redact: Redactor = field(default=no_redaction, compare=False)

    def text(self) -> str:
        """The body as the caller receives it (JSON)."""
        return json.dumps(self.body, ensure_ascii=False)

    def __repr__(self) -> str:
        return self._redact(f"ApiResponse(status={self.status}, headers={self.headers!r}, "
                            f"body={self.body!r})")


def api_response(invocation: Invocation) -> ApiResponse:
    error, request_id = invocation.error, invocation.request_id
    if error is not None and error.by_platform:
        status = int(str(error.code).rpartition(".")[2])  # FSS.0413: HTTP 413
        return ApiResponse(status, {"X-Cff-Request-Id": request_id,
                                    "Content-Type": "application/json"},
                           error.to_body(), invocation._redact)
    duration = round(invocation.duration_ms, 3)
    billing = invocation.billed_duration_ms
    # [assumption] memory used is the instance's measured peak in process isolation; in-process
    # nothing is measured, and 0 is reported.
    used = invocation.memory_used_mb or 0
    summary = {"duration": duration, "billingDuration": billing,
               "memorySize": invocation.memory_size, "memoryUsed": used}
    log = (f"Start invoke request '{request_id}', version: latest\n{invocation.log}"
           f"Finish invoke request '{request_id}', duration: {duration}ms, billing duration: "
           f"{billing}ms, memory used: {used}MB, billing memory: {invocation.memory_size}MB")
    # [assumption] a function error is still HTTP 200 (the API's only documented success
    # status): the headers say that the function failed, the result carries its error body.
    result = (json.dumps(invocation.result, ensure_ascii=False) if error is None
              else json.dumps(error.to_body(), ensure_ascii=False))
    headers = {
        "X-Cff-Request-Id": request_id,
        "X-Cff-Invoke-Summary": json.dumps(summary),
        "X-CFF-Billing-Duration": str(billing),
        "X-Cff-Response-Version": "v1",
        "X-Func-Err-Code": "0" if error is None else str(error.code),
        "X-Is-Func-Err": "false" if error is None else "true",
        "Content-Type": "application/json",
    }
    body = {"request_id": request_id, "result": result, "log": log, "status": 200}
    return ApiResponse(200, headers, body, invocation._redact)
