"""Async destinations: where the record of a finished asynchronous request goes (A23-A26).
[test process]

A destination is written as the API and Terraform write it, ``{"destination": "SMN", "param":
...}``, its ``param`` a JSON string (as the API takes it) or a dict. Each delivery is kept, in
order, as a `Delivery` for assertions; nothing leaves the test process. A ``FunctionGraph``
destination is delivered to the emulator wired to its ``func_urn``, if the test wired one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FunctionConfigError

# A23: each kind and the keys of its param (required ones first).
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OBS": (("bucket",), ("prefix", "expires")),
    "SMN": (("topic_urn",), ()),
    "DIS": (("stream_name",), ()),
    "FunctionGraph": (("func_urn",), ()),
}


@dataclass(frozen=True)
class Destination:
    """One configured destination: its kind and its param, parsed."""

    kind: str
    param: dict[str, Any]

    def where(self, request_id: str) -> str:
        """Where a record lands (A26): the OBS object key, the topic, the stream or the URN."""
        if self.kind == "OBS":
            prefix = str(self.param.get("prefix", "")).strip("/")
            return f"{prefix}/{request_id}.json" if prefix else f"{request_id}.json"
        return str(self.param[KINDS[self.kind][0][0]])


def parse_destination(field: str, value: Any) -> Destination | None:
    """``value`` as a `Destination` (``None`` stays ``None``); a clear error naming ``field``
    and what it takes otherwise."""
    if value is None:
        return None
    if isinstance(value, Destination):
        return value
    shape = ('{"destination": "OBS" | "SMN" | "DIS" | "FunctionGraph", "param": <a JSON '
             'string or a dict of its keys>}')
    if not isinstance(value, Mapping) or set(value) - {"destination", "param"}:
        raise FunctionConfigError(field, f"must be {shape}, not {value!r}")
    kind = value.get("destination")
    if kind not in KINDS:
        raise FunctionConfigError(
            field, f"destination {kind!r} is not one of {', '.join(KINDS)} (A23; RocketMQ is "
                   "not emulated)")
    param = _param(field, value.get("param"))
    required, optional = KINDS[kind]
    missing = [k for k in required if k not in param]
    unknown = sorted(set(param) - set(required) - set(optional))
    if missing or unknown:
        raise FunctionConfigError(
            field, f"the param of a {kind} destination takes {', '.join(required + optional)}"
                   f" ({', '.join(required)} required); "
                   + (f"missing {', '.join(missing)}" if missing else
                      f"unknown {', '.join(unknown)}"))
    expires = param.get("expires", 0)
    if kind == "OBS" and (isinstance(expires, bool) or not isinstance(expires, int)
                          or not 0 <= expires <= 365):
        raise FunctionConfigError(field, f"OBS expires is a whole number of days from 0 to 365 "
                                         f"(0: never), not {expires!r}")
    return Destination(kind, param)


def _param(field: str, param: Any) -> dict[str, Any]:
    if isinstance(param, str):
        try:
            param = json.loads(param)
        except ValueError as exc:
            raise FunctionConfigError(field, f"param is not valid JSON ({exc})") from None
    if not isinstance(param, Mapping):
        raise FunctionConfigError(field, f"param must be a JSON object (a string or a dict), "
                                         f"not {param!r}")
    return dict(param)
