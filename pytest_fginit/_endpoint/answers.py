"""What the endpoint answers: records and refusals as the platform's status, headers and
bytes (invoke-api.md, sections 4 and 5). Pure: no I/O. [test process]

The v1 answer is `Invocation.to_api_response()` as the records module builds it; this module
adds what only an HTTP caller sees: the v0 raw body, the log only when ``tail`` is asked, the
``X-Cff-Function-Log`` header, and ``X-Request-Id`` on every answer (the SDK reads a failed
request's id from it, reference I16).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .routes import ApiError
from .signature import Refusal

if TYPE_CHECKING:
    from ..config import FunctionConfig
    from ..records import Invocation

LOG_TAIL_BYTES = 4096
"""[assumption] (reference I11) the v1 body's ``log`` with ``X-Cff-Log-Type: tail``: its last
4 KB; the header ``X-Cff-Function-Log`` carries the last 2,000 bytes, base64."""
LOG_HEADER_BYTES = 2000


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_reply(status: int, body: Any, request_id: str,
               headers: dict[str, str] | None = None) -> Reply:
    text = json.dumps(body, ensure_ascii=False).encode()
    return Reply(status, {"Content-Type": "application/json", **(headers or {}),
                          "X-Request-Id": request_id}, text)


def error_reply(error: ApiError, request_id: str) -> Reply:
    return json_reply(error.status, {"error_code": error.code, "error_msg": error.message},
                      request_id, {"X-Cff-Request-Id": request_id})


def auth_reply(refusal: Refusal, request_id: str) -> Reply:
    """[assumption] (reference I20) the gateway's refusal is HTTP 401."""
    return json_reply(401, {"error_msg": refusal.message, "error_code": "APIGW.0301",
                            "request_id": request_id}, request_id)


def invoke_reply(invocation: Invocation, *, v1: bool, tail: bool,
                 redact: Callable[[str], str]) -> Reply:
    """The synchronous invoke's answer, v1 envelope or v0 raw body (reference I9-I13)."""
    api = invocation.to_api_response()
    request_id = invocation.request_id
    if api.status != 200:  # (refused by the platform: the same error body in v0 and v1)
        return json_reply(api.status, api.body, request_id, api.headers)
    headers = dict(api.headers)
    log = redact(api.body["log"])  # (what the function printed: its secrets masked)
    if tail:
        headers["X-Cff-Function-Log"] = base64.b64encode(
            log.encode()[-LOG_HEADER_BYTES:]).decode()
    if v1:
        shown = log.encode()[-LOG_TAIL_BYTES:].decode(errors="ignore") if tail else ""
        return json_reply(200, {**api.body, "log": shown}, request_id, headers)
    headers["X-Cff-Response-Version"] = "v0"
    # v0: the function's answer itself (its error body when it failed), as raw JSON text
    return Reply(200, {**headers, "X-Request-Id": request_id},
                 api.body["result"].encode())


def accepted_reply(request_id: str) -> Reply:
    """The asynchronous invoke's acceptance: 202 and the request's id (async A3)."""
    return json_reply(202, {"request_id": request_id}, request_id,
                      {"X-Cff-Request-Id": request_id})


def config_body(config: FunctionConfig, urn: str, project_id: str) -> dict[str, Any]:
    """ShowFunctionConfig's fields that the emulated configuration holds (never its secrets:
    ``encrypted_user_data`` and the temporary keys are left out)."""
    return {
        "func_urn": urn.rpartition(":")[0], "func_name": config.func_name,
        "package": config.package, "runtime": config.runtime, "timeout": config.timeout,
        "handler": config.handler, "memory_size": config.memory_size,
        "user_data": json.dumps(dict(config.user_data), ensure_ascii=False),
        "initializer_handler": config.initializer_handler or "",
        "initializer_timeout": config.initializer_timeout or 0,
        "pre_stop_handler": config.pre_stop_handler or "",
        "pre_stop_timeout": config.pre_stop_timeout or 0,
        "strategy_config": {"concurrency": config.max_instance_num,
                            "concurrent_num": config.concurrency_num},
        "version": "latest", "type": "v2", "code_type": "inline",
        "project_id": project_id,
    }


def list_body(functions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    listed = list(functions)
    return {"functions": listed, "next_marker": 0, "count": len(listed)}
