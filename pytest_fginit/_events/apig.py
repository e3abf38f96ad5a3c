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
_METHOD, _PATH, _QUERY = f"{_WHERE}: method", f"{_WHERE}: path", f"{_WHERE}: query"
_PATH_PARAMS, _HEADERS = f"{_WHERE}: path_params", f"{_WHERE}: headers"
_HEADER_KEY, _BASE64 = f"{_HEADERS} key", f"{_WHERE}: base64_body"


def request(method: str, path: str, *, body: Any, headers: Mapping[str, Any] | None,
            query: Mapping[str, Any] | None, path_params: Mapping[str, str] | None,
            base64_body: bool, request_id: str | None, stage: str | None,
            user_data: str | None) -> dict[str, Any]:
    """The APIG event (see `pytest_fginit.events.apig`)."""
    event = fresh_template()
    checked = checks.text(_METHOD, method).upper()
    if checked not in METHODS:
        checks.choice(_METHOD, checked, METHODS)  # (raises, naming what is allowed)
    event["httpMethod"] = checked
    event["path"] = _path(path)
    if query is not None:
        event["queryStringParameters"] = checks.strings(_QUERY, query, lists=True)
    if path_params is not None:
        event["pathParameters"] = checks.strings(_PATH_PARAMS, path_params, lists=False)
    if headers is not None:
        _merge_headers(event["headers"], headers)
    if body is not None and not isinstance(body, (str, bytes, bytearray, memoryview)):
        # (a JSON body: what a client sending JSON says it is, unless the test said otherwise)
        event["headers"].setdefault("content-type", "application/json")
    event["body"], event["isBase64Encoded"] = _body(body, base64_body)
    if request_id is not None or stage is not None:
        context = event["requestContext"]
        if request_id is not None:
            context["requestId"] = checks.text(f"{_WHERE}: request_id", request_id)
        if stage is not None:
            context["stage"] = checks.text(f"{_WHERE}: stage", stage)
    if user_data is not None:  # G1 [assumption]: only when the test gives it
        event["user_data"] = checks.text(f"{_WHERE}: user_data", user_data)
    return event


def fresh_template() -> dict[str, Any]:
    """A copy of the template (`templates.fresh`'s), made directly: its values are strings,
    booleans and flat objects of strings, so a copy of each object is a deep copy (an event
    is built per ``http()`` call)."""
    template = templates.APIG
    event = template.copy()
    for key in _NESTED:
        event[key] = template[key].copy()
    return event


_NESTED: Final = tuple(key for key, value in templates.APIG.items() if isinstance(value, dict))


def _path(path: object) -> str:
    text = checks.text(_PATH, path)
    if not text.startswith("/"):
        raise ValueError(f"{_PATH}: {checks.shown(text)} must start with '/'")
    if "?" in text:
        raise ValueError(f"{_PATH}: {checks.shown(text)} holds a query; APIG passes it apart "
                         "(G3): give it as query={...}")
    return text


def _merge_headers(headers: dict[str, Any], given: Mapping[str, Any]) -> None:
    """The test's headers over the template's (a gateway's and a browser's), names
    lower-cased as APIG delivers them; a ``None`` value removes one."""
    for name, value in (given if type(given) is dict
                        else checks.mapping(_HEADERS, given)).items():
        key = checks.text(_HEADER_KEY, name).lower()
        if value is None:
            headers.pop(key, None)
        elif type(value) is str:  # (the common case: what `checks.strings` lets through)
            headers[key] = value
        else:
            headers[key] = checks.strings(_HEADERS, {name: value}, lists=True)[name]


def _body(body: Any, base64_body: object) -> tuple[str, bool]:
    encoded = checks.flag(_BASE64, base64_body)
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
    if (type(result) is dict and type(result.get("statusCode")) is int
            and type(result.get("headers")) is dict and type(result.get("body")) is str
            and result.get("isBase64Encoded") is False):
        return None  # (the common case, a plain text body: the checks below all pass)
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
