"""The lifecycle timeline added to a failed test's report: one line per event, in time order.
[test process]

A long journal is cut to the events that explain the failure: its first and last events, the
requests that failed (the first and last few of them), and the life of the instances those
ran on or waited for (created, init attempts, stopped); each run of events left out becomes
one line that counts them, and requests the records no longer keep (``invocations_kept``) are
counted at the top. So the report stays a few hundred lines, whatever the test sent.

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
"""A long journal shows this many events at its start and at its end, and counts what it
leaves out: a failed test that sent 100,000 requests would otherwise get a 100,000-line report
(11 MB was measured), its first events and its last, where the failure usually is."""
FAILURES_AT_EACH_END = 10
"""Of the failed requests, the first this many (where things went wrong) and the last (what
the test saw) are shown wherever they are, with their instances' lives."""


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
    let_go = _let_go(emulator)
    if let_go:
        lines.append(let_go)
    journal = emulator.journal
    shown = _chosen(journal)
    previous = -1
    for index in shown:
        if index > previous + 1:
            lines.append(_left_out(journal[previous + 1:index]))
        if _shown(journal[index]):
            lines.append(_line(journal[index]))
        previous = index
    if previous < len(journal) - 1:
        lines.append(_left_out(journal[previous + 1:]))
    if len(lines) == 1 + bool(let_go):
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


def _let_go(emulator: FunctionEmulator) -> str:
    """A line for the requests the records no longer keep (empty if they keep them all)."""
    kept = emulator.invocations
    total = emulator.billing
    gone = total.invocations - len(kept)
    if gone <= 0:
        return ""
    failed = total.errors - sum(1 for inv in kept if inv.error is not None)
    return (f"  {gone:,} earlier requests ({failed:,} failed) are no longer in the records "
            f"(invocations_kept={emulator.config.invocations_kept}): the latest {len(kept):,} "
            f"are; fn.billing counts all {total.invocations:,}")


def _chosen(journal: list[JournalEntry]) -> list[int]:
    """The positions of the journal's events the report shows, in order: all of a short
    journal; of a long one, the first and last, the first and last failed requests, and the
    events of the instances those involved (not their other requests)."""
    if len(journal) <= 2 * SHOWN_AT_EACH_END + 1:
        return list(range(len(journal)))
    chosen = {*range(SHOWN_AT_EACH_END), *range(len(journal) - SHOWN_AT_EACH_END, len(journal))}
    failed = [n for n, (_, what, record) in enumerate(journal)
              if what == "invocation" and record.error is not None]
    picked = {*failed[:FAILURES_AT_EACH_END], *failed[-FAILURES_AT_EACH_END:]}
    involved = set()
    for n in picked:
        invocation: Invocation = journal[n].record
        involved |= {invocation.instance, *(a.instance for a in invocation.init_attempts)}
    involved.discard(None)
    chosen |= picked
    chosen |= {n for n, entry in enumerate(journal)
               if entry.what != "invocation" and _instance_of(entry) in involved}
    return sorted(chosen)


def _instance_of(entry: JournalEntry) -> Instance | None:
    """The instance an event other than a request is about (``None``: none)."""
    match entry.what:
        case "instance":
            instance: Instance = entry.record[0]
            return instance
        case "attempt":
            attempt: InitAttempt = entry.record
            return attempt.instance
        case "pre_stop":
            stopped: Instance = entry.record
            return stopped
    return None


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
