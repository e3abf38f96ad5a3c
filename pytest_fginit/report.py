"""The lifecycle timeline added to a failed test's report: one line per event, in time order.
[test process]

Everything printed goes through the emulator's redaction, so secrets never reach the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .emulator import FunctionEmulator
    from .errors import FunctionError
    from .records import InitAttempt, Instance, InstanceState, Invocation, JournalEntry

__all__: list[str] = []  # no API: the plugin's report, built from the journal

_MESSAGE_MAX = 200
SHOWN_AT_EACH_END = 100
"""A long journal shows this many lines at its start and at its end, and counts what lies
between: a failed test that sent 100,000 requests gets a report of a few hundred lines (about
1 KB each would be 100 MB), its first events and its last, where the failure is."""


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
    journal = emulator.journal
    if len(journal) > 2 * SHOWN_AT_EACH_END + 1:
        head, tail = journal[:SHOWN_AT_EACH_END], journal[-SHOWN_AT_EACH_END:]
        lines += [_line(entry) for entry in head if _shown(entry)]
        lines.append(_left_out(journal[SHOWN_AT_EACH_END:-SHOWN_AT_EACH_END]))
        lines += [_line(entry) for entry in tail if _shown(entry)]
    else:
        lines += [_line(entry) for entry in journal if _shown(entry)]
    if len(lines) == 1:
        lines.append("  (nothing happened: no request was sent)")
    waiting = emulator.async_invocations("WAIT")
    if waiting:  # (closed with requests still queued: said, never dropped silently)
        lines.append(f"  {len(waiting)} async request{'s' if len(waiting) != 1 else ''} still "
                     "queued (WAIT): " + ", ".join(
                         f"{r.request_id} (next attempt at {r.next_attempt_at:+.3f}s)"
                         for r in waiting[:10]) + (", ..." if len(waiting) > 10 else ""))
    pending = emulator.faults.pending
    if pending:
        lines.append("  faults not used up: " + ", ".join(
            f"{r.phase} {r.description} x{r.remaining}" for r in pending))
    return emulator.redact("\n".join(lines))


def _shown(entry: JournalEntry) -> bool:
    # A state change to ready or failed: the attempt's line just said so.
    return not (entry.what == "instance" and entry.record[1] in ("ready", "failed"))


def _line(entry: JournalEntry) -> str:
    at, what, record = entry
    match what:  # (JournalEntry.what: a closed set)
        case "instance":
            instance, state = record
            text = _instance_line(instance, state)
        case "attempt":
            text = _attempt_line(record)
        case "invocation":
            text = _invocation_line(record)
        case "pre_stop":
            text = _pre_stop_line(record)
        case "deploy" | "note":
            text = str(record)
        case "advance":
            text = f"clock advanced {record:g} s"
    return f"  {at:+10.3f}s  {text}"


def _left_out(entries: list[JournalEntry]) -> str:
    """One line for the middle of a long journal: how many events, and of which kinds."""
    requests = [e.record for e in entries if e.what == "invocation"]
    failed = sum(1 for inv in requests if inv.error is not None)
    attempts = [e.record for e in entries if e.what == "attempt"]
    others = len(entries) - len(requests) - len(attempts)
    return (f"  ... {len(entries):,} events not shown: {len(requests):,} requests "
            f"({failed:,} failed), {len(attempts):,} init attempts "
            f"({sum(1 for a in attempts if not a.ok):,} failed), {others:,} other events "
            "(all of them: fn.journal, fn.invocations)")


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
