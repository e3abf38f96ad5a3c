"""A function's asynchronous invocation configuration, checked (A12-A16, A20-A25): its
retries, its event age and its destinations. [test process]

A destination is written as the API and Terraform write it, ``{"destination": "SMN", "param":
...}``, its ``param`` a JSON string (as the API takes it) or a dict. Every figure the platform
does not publish is an **[assumption]** of the reference, kept here as a default: the
failure-retry intervals (A15), the throttle schedule (A11), and what
``approximate_invoke_count`` counts (A38).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import FunctionConfigError

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


def async_policy(max_async_event_age_in_seconds: int | None = None,
                 max_async_retry_attempts: int | None = None,
                 destination_config: Mapping[str, Any] | None = None) -> AsyncPolicy:
    """An `AsyncPolicy` from a configuration's async keys (``None``: not given; the numbers
    are checked with the other keys, `_config_checks`)."""
    destinations = check_destination_config("destination_config", destination_config or {})
    given = (max_async_event_age_in_seconds, max_async_retry_attempts)
    return AsyncPolicy(
        configured=any(v is not None for v in given) or bool(destinations),
        max_async_event_age_in_seconds=(3600 if max_async_event_age_in_seconds is None
                                        else max_async_event_age_in_seconds),
        max_async_retry_attempts=1 if max_async_retry_attempts is None
        else max_async_retry_attempts,
        on_success=destinations.get("on_success"), on_failure=destinations.get("on_failure"))


def check_destination_config(name: str, value: Any) -> dict[str, Destination]:
    """``destination_config`` as the API writes it (A20): ``on_success`` and/or ``on_failure``,
    each a destination; a clear `FunctionConfigError` otherwise."""
    if isinstance(value, str):  # (from ini or the command line: JSON text)
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise FunctionConfigError(name, f"is not valid JSON ({exc})") from None
    if not isinstance(value, Mapping) or set(value) - {"on_success", "on_failure"}:
        raise FunctionConfigError(name, 'takes {"on_success": <destination>, "on_failure": '
                                        f"<destination>}} (either may be left out), not {value!r}")
    parsed = {on: parse_destination(f"{name}.{on}", d) for on, d in value.items()}
    return {on: d for on, d in parsed.items() if d is not None}


def check_assumptions(choices: Mapping[str, Any]) -> dict[str, Any]:
    """The ``async_assumptions()`` keywords, checked: a clear error names the one that is
    wrong and what it takes."""
    checked: dict[str, Any] = {}
    for name, value in choices.items():
        if name == "retry_intervals":
            ok = (isinstance(value, (tuple, list)) and 1 <= len(value) <= 3
                  and all(_seconds(v) for v in value))
            what = "1 to 3 numbers of seconds >= 0, one per retry"
            value = tuple(float(v) for v in value) if ok else value
        elif name in ("throttle_first", "throttle_cap"):
            ok, what = _seconds(value) and value > 0, "a number of seconds > 0"
        elif name == "invoke_count":
            ok, what = value in ("retries", "attempts"), '"retries" or "attempts"'
        else:
            raise TypeError(f"async_assumptions(): unknown keyword {name!r}; allowed: "
                            "retry_intervals, throttle_first, throttle_cap, invoke_count")
        if not ok:
            raise ValueError(f"async_assumptions(): {name} must be {what}, not {value!r}")
        checked[name] = value
    return checked


def _seconds(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and 0 <= value < float("inf"))
