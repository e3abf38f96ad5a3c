"""The lifecycle paths a session can exercise, and which ones a record shows (issue 15).
[test process]

A path is a way through the platform's lifecycle that a suite may or may not ever try: a cold
start, an initializer that failed and then succeeded on a new instance, an idle instance
reclaimed, an asynchronous retry... Each is recognised from the records the emulator already
keeps: an `Invocation` when it finishes, an `Instance` when it changes state, and the
journal's `Note` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .records import Instance, InstanceState, Invocation, Note

PATHS: Final[dict[str, str]] = {
    "cold_start": "a request served by a new instance",
    "warm_reuse": "a request served by an instance that was ready",
    "init_retry_succeeded": "an initialization failed, then succeeded on a new instance",
    "init_retries_exhausted": "every initialization attempt of a request failed",
    "init_timeout": "an initializer ran past its timeout",
    "load_error": "the function's code failed to load",
    "handler_error": "the handler raised",
    "handler_timeout": "the handler ran past its timeout",
    "crash": "an instance's runtime exited (sys.exit, os._exit, a signal)",
    "memory_exceeded": "an instance ran out of memory",
    "throttled": "a request was throttled (no instance to serve it)",
    "concurrent_cold_starts": "requests sent together started instances side by side",
    "reserved_instance_served": "a reserved instance served a request",
    "idle_reclaim": "an idle instance was reclaimed",
    "pre_stop_ran": "the pre-stop handler ran and succeeded",
    "pre_stop_failed": "the pre-stop handler raised",
    "pre_stop_timeout": "the pre-stop handler ran past its timeout",
    "code_update_with_traffic": "a request after update() or publish_version(), on a "
                                "function that had served before",
    "request_too_large": "a request over 6 MB was refused",
    "result_too_large": "a result over 6 MB was refused",
    "async_retry": "an asynchronous request was retried after a failure",
    "async_discard": "an asynchronous request was discarded (its event age ran out)",
    "destination_delivered": "an async record reached a destination",
    "apig_contract_broken": "a result broke the APIG contract (API Gateway answered 500)",
}
"""Every path, with what it means (the report's and the docs' wording)."""

_ERROR_PATHS: Final = {
    "load_error": "load_error", "handler_error": "handler_error",
    "handler_timeout": "handler_timeout", "crashed": "crash",
    "memory_exceeded": "memory_exceeded", "throttled": "throttled",
    "request_too_large": "request_too_large", "response_too_large": "result_too_large",
}
_NOTE_PATHS: Final = {"async_retry": "async_retry", "async_discard": "async_discard",
                      "destination_delivered": "destination_delivered",
                      "apig_contract_broken": "apig_contract_broken"}
_PRE_STOP_ERRORS: Final = {"pre_stop_failed": "pre_stop_failed",
                           "pre_stop_timeout": "pre_stop_timeout"}


_COLD: Final = ("cold_start",)
_WARM: Final = ("warm_reuse",)


def invocation_paths(invocation: Invocation) -> Sequence[str]:
    """The paths one finished request went through, on its own."""
    instance = invocation.instance
    if (invocation.error is None and instance is not None and not instance.reserved
            and all(a.ok for a in invocation.init_attempts)):  # (most requests: one path)
        return _COLD if invocation.cold_start else _WARM
    paths = []
    if invocation.instance is not None:
        paths.append("cold_start" if invocation.cold_start else "warm_reuse")
        if invocation.instance.reserved:
            paths.append("reserved_instance_served")
    attempts = invocation.init_attempts
    failed = [a.error.kind for a in attempts if a.error is not None]
    if failed and any(a.ok for a in attempts):
        paths.append("init_retry_succeeded")
    if attempts and not any(a.ok for a in attempts):
        paths.append("init_retries_exhausted")
    if "init_timeout" in failed:
        paths.append("init_timeout")
    kinds = set(failed)
    if invocation.error is not None:
        kinds.add(invocation.error.kind)
    paths += sorted({_ERROR_PATHS[k] for k in kinds if k in _ERROR_PATHS})
    return paths


def state_paths(instance: Instance, state: InstanceState) -> list[str]:
    """The paths an instance's change of state shows."""
    paths = ["idle_reclaim"] if state == "reclaimed" else []
    run = instance.pre_stop
    if state in ("recycled", "reclaimed") and run is not None:
        if run.ok:
            paths.append("pre_stop_ran")
        elif run.error is not None and run.error.kind in _PRE_STOP_ERRORS:
            paths.append(_PRE_STOP_ERRORS[run.error.kind])
    return paths


def note_paths(note: Note) -> list[str]:
    path = _NOTE_PATHS.get(note.kind)
    return [path] if path is not None else []
