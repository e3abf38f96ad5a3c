"""The lifecycle timeline added to a failed test's report: one line per event, in time order.
[test process]

Everything printed goes through the emulator's redaction, so secrets never reach the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .emulator import FunctionEmulator
    from .errors import FunctionError
    from .records import InitAttempt, Instance, InstanceState, Invocation

__all__: list[str] = []  # no API: the plugin's report, built from the journal

_MESSAGE_MAX = 200


def describe_error(error: FunctionError | None) -> str:
    if error is None:
        return "ok"
    message = error.message
    if len(message) > _MESSAGE_MAX:
        message = message[:_MESSAGE_MAX] + "..."
    typed = f"{error.type}: " if error.type else ""
    return f"{error.kind} {typed}{message}"


def format_timeline(emulator: FunctionEmulator) -> str:
    c = emulator.config
    init = (f", initializer {c.initializer_handler} ({c.initializer_timeout} s)"
            if c.initializer_handler else "")
    clock = "virtual time" if c.virtual_time else "real time"
    lines = [
        f"function {c.func_name!r}: handler {c.handler} ({c.timeout} s){init}, "
        f"{c.memory_size} MB, init_retries {c.init_retries}, {clock}, "
        f"{'process' if c.isolation == 'process' else 'in-process'} isolation"
    ]
    for at, what, record in emulator.journal:
        match what:  # (JournalEntry.what: a closed set)
            case "instance":
                instance, state = record
                if state in ("ready", "failed"):
                    continue  # the attempt's line just said so
                text = _instance_line(instance, state)
            case "attempt":
                text = _attempt_line(record)
            case "invocation":
                text = _invocation_line(record)
            case "pre_stop":
                text = _pre_stop_line(record)
            case "deploy":
                text = str(record)
            case "advance":
                text = f"clock advanced {record:g} s"
        lines.append(f"  {at:+10.3f}s  {text}")
    if len(lines) == 1:
        lines.append("  (nothing happened: no request was sent)")
    pending = emulator.faults.pending
    if pending:
        lines.append("  faults not used up: " + ", ".join(
            f"{r.phase} {r.description} x{r.remaining}" for r in pending))
    return emulator.redact("\n".join(lines))


def _instance_line(instance: Instance, state: InstanceState) -> str:
    return f"{instance.id} {'created' if state == 'initializing' else state}"


def _attempt_line(attempt: InitAttempt) -> str:
    outcome = ("initialized, ready" if attempt.ok
               else f"init failed, abandoned: {describe_error(attempt.error)}")
    return f"{attempt.instance.id} {outcome} ({attempt.duration_ms:.1f} ms)"


def _pre_stop_line(instance: Instance) -> str:
    run = instance.pre_stop
    assert run is not None
    outcome = "ok" if run.ok else f"failed: {describe_error(run.error)}"
    return f"{instance.id} pre-stop {outcome} ({run.duration_ms:.1f} ms)"


def _invocation_line(inv: Invocation) -> str:
    if inv.error is not None and inv.error.by_platform:
        return (f"request {inv.request_id}: {describe_error(inv.error)} - refused by the "
                "platform, no instance involved")
    where = f"on {inv.instance.id}" if inv.instance else "- no instance could initialize"
    start = (f"cold start, {len(inv.init_attempts)} init attempt"
             f"{'s' if len(inv.init_attempts) != 1 else ''}" if inv.cold_start else "warm")
    return (f"request {inv.request_id}: {describe_error(inv.error)} {where} ({start}, "
            f"handler {inv.duration_ms:.1f} ms, billed {inv.billed_duration_ms} ms)")
