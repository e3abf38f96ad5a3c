"""API Gateway: the request event a function receives, and the contract its result must keep.
[test process]

Request (reference, section 4, G1-G3): the console's template (E1) with the caller's method,
path, query, path parameters, headers and body. Header names arrive lower-cased; the body is
base64 of the raw HTTP body when ``isBase64Encoded`` is true, which is APIG's default.

Response (G4-G5): `response_problem` says why a handler's result is not what API Gateway
accepts, for the HTTP view that later work builds on it (APIG answers 500 then).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from . import checks, templates

METHODS: Final = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
"""The HTTP methods an APIG API can be called with (``ANY`` is an API's setting, not a
request's method)."""
RESPONSE_TYPES: Final = {"statusCode": int, "headers": dict, "body": str, "isBase64Encoded": bool}
"""G4: the four keys an APIG-invoked function returns, and their types."""

_WHERE = "events.apig()"


def request(method: str, path: str, *, body: Any, headers: Mapping[str, Any] | None,
            query: Mapping[str, Any] | None, path_params: Mapping[str, str] | None,
            base64_body: bool, request_id: str | None, stage: str | None,
            user_data: str | None) -> dict[str, Any]:
    """The APIG event (see `pytest_fginit.events.apig`)."""
    event = templates.fresh(templates.APIG)
    checked = checks.text(f"{_WHERE}: method", method).upper()
    event["httpMethod"] = checks.choice(f"{_WHERE}: method", checked, METHODS)
    event["path"] = _path(path)
    if query is not None:
        event["queryStringParameters"] = checks.strings(f"{_WHERE}: query", query, lists=True)
    if path_params is not None:
        event["pathParameters"] = checks.strings(f"{_WHERE}: path_params", path_params,
                                                 lists=False)
    if headers is not None:
        _merge_headers(event["headers"], headers)
    if body is not None and not isinstance(body, (str, bytes, bytearray, memoryview)):
        # (a JSON body: what a client sending JSON says it is, unless the test said otherwise)
        event["headers"].setdefault("content-type", "application/json")
    event["body"], event["isBase64Encoded"] = _body(body, base64_body)
    context = event["requestContext"]
    if request_id is not None:
        context["requestId"] = checks.text(f"{_WHERE}: request_id", request_id)
    if stage is not None:
        context["stage"] = checks.text(f"{_WHERE}: stage", stage)
    if user_data is not None:  # G1 [assumption]: only when the test gives it
        event["user_data"] = checks.text(f"{_WHERE}: user_data", user_data)
    return event


def _path(path: object) -> str:
    where = f"{_WHERE}: path"
    text = checks.text(where, path)
    if not text.startswith("/"):
        raise ValueError(f"{where}: {checks.shown(text)} must start with '/'")
    if "?" in text:
        raise ValueError(f"{where}: {checks.shown(text)} holds a query; APIG passes it apart "
                         "(G3): give it as query={...}")
    return text


def _merge_headers(headers: dict[str, Any], given: Mapping[str, Any]) -> None:
    """The test's headers over the template's (a gateway's and a browser's), names
    lower-cased as APIG delivers them; a ``None`` value removes one."""
    where = f"{_WHERE}: headers"
    for name, value in checks.mapping(where, given).items():
        key = checks.text(f"{where} key", name).lower()
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = checks.strings(where, {name: value}, lists=True)[name]


def _body(body: Any, base64_body: object) -> tuple[str, bool]:
    encoded = checks.flag(f"{_WHERE}: base64_body", base64_body)
    if body is None:
        return "", encoded
    raw = checks.payload(f"{_WHERE}: body", body)
    if encoded:
        return base64.b64encode(raw).decode("ascii"), True
    try:
        return raw.decode(), False
    except UnicodeDecodeError:
        raise ValueError(f"{_WHERE}: body: these bytes are not UTF-8 text, which "
                         "base64_body=False needs; keep base64_body=True (APIG's default) "
                         "to send binary") from None


def response_problem(result: object) -> str | None:
    """Why ``result`` breaks the APIG contract (G4-G5: APIG then answers 500), or ``None``.

    [assumption] (G5) "otherwise" is a result that is not an object, a missing key, a value
    of the wrong type (``statusCode: "200"``, ``True`` is no status either), or a body that
    says it is base64 and is not. Keys beyond the four are let through.
    """
    if not isinstance(result, dict):
        return (f"the function returned {type(result).__name__} {checks.shown(result)}, not "
                "an object with statusCode, headers, body and isBase64Encoded")
    missing = [key for key in RESPONSE_TYPES if key not in result]
    if missing:
        return "the function's result has no " + ", ".join(missing)
    for key, kind in RESPONSE_TYPES.items():
        value = result[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return (f"the function's {key} is {type(value).__name__} {checks.shown(value)}, "
                    f"not {kind.__name__}")
    if result["isBase64Encoded"]:
        try:
            base64.b64decode(result["body"], validate=True)
        except binascii.Error:
            return ("the function's body is not base64, though isBase64Encoded is true: "
                    + checks.shown(result["body"]))
    return None
