"""What a long run keeps of its records, and the exact totals of all of them. [test process]

Each request leaves about 1 KB of records (its event and result after their JSON round trip,
its log, the `Invocation`, its journal entry): 100 MB after 10^5 requests on one instance. So
an emulator keeps the latest ``invocations_kept`` invocations: in its ``invocations``, in each
instance's ``invocations``, and their entries in the journal. The journal keeps every other
event (state changes, attempts, pre-stops, deploys, advances): they grow with instances, not
with requests, and the failure report needs them to explain the requests it shows.

The oldest are let go in batches: once the function's list holds a tenth more than the bound,
it and the lists of the instances that served since the last cut go back to it (so neither
ever holds more). Letting go of one at a time would move the whole list (a list drops its first
item by shifting the rest) on every request: 1.4 us per list at 10,000, three lists.

What is let go is counted first. Each request is added to the totals `FunctionEmulator.billing`
reads once, at the first read after it was filed or before it is let go, never recomputed: a
read costs the same after 10^5 requests as after one, a request pays nothing for it as it is
sent, and the totals stay exact whatever the bound.
"""

from __future__ import annotations

from .records import Billing, InitAttempt, Invocation, JournalEntry, gb_s, keep_latest

__all__: list[str] = []  # no API: the emulator's bookkeeping


class Retention:
    """The bound on one emulator's records and the running totals of its requests.

    ``invocations``, ``journal`` and ``reserved_attempts`` are the emulator's own lists (the
    control plane appends to them); they are trimmed in place, between sends only: a send
    sorts the journal entries it added, by their positions.
    """

    def __init__(self, invocations: list[Invocation], journal: list[JournalEntry],
                 reserved_attempts: list[InitAttempt]) -> None:
        self._invocations = invocations
        self._journal = journal
        self._reserved_attempts = reserved_attempts
        self._counted = 0  # (invocations[:_counted] are in the totals)
        self._reserved_counted = 0
        self._clean = 0  # (journal[:_clean] holds no invocation entry: the next scan starts)
        self._cut = 0  # (invocations[_cut:] were filed since the last cut)
        self.let_go = 0
        """Invocations no longer in ``invocations`` (the oldest ones)."""
        self.requests = self.errors = self.cold_starts = 0
        self.init_failures = self.init_timeouts = self.billed_ms = 0
        self.gb_s = 0.0

    def catch_up(self) -> None:
        """Add what was filed since the last call to the totals (a listener reading
        `billing` during a send sees the requests filed so far)."""
        for invocation in self._invocations[self._counted:]:
            self.requests += 1
            if invocation.error is not None:
                self.errors += 1
            if invocation.cold_start:
                self.cold_starts += 1
            for attempt in invocation.init_attempts:
                self._count(attempt)
            billed = invocation.billed_duration_ms  # (once: it sums the attempts)
            self.billed_ms += billed
            self.gb_s += gb_s(invocation.memory_size, billed)
        self._counted = len(self._invocations)
        for attempt in self._reserved_attempts[self._reserved_counted:]:
            self._count(attempt)
        self._reserved_counted = len(self._reserved_attempts)

    def _count(self, attempt: InitAttempt) -> None:
        if not attempt.ok:
            self.init_failures += 1
            if attempt.error is not None and attempt.error.kind == "init_timeout":
                self.init_timeouts += 1

    def billing(self, instances: int, reserved_billed: tuple[int, float]) -> Billing:
        """The totals so far, with the pool's count of instances and the reserved instances'
        billed initialization (ms, GB-s)."""
        self.catch_up()
        reserved_ms, reserved_gb_s = reserved_billed
        return Billing(invocations=self.requests, instances=instances,
                       cold_starts=self.cold_starts, init_failures=self.init_failures,
                       init_timeouts=self.init_timeouts,
                       billed_duration_ms=self.billed_ms + reserved_ms,
                       gb_s=self.gb_s + reserved_gb_s, errors=self.errors)

    def after_send(self, kept: int | None) -> None:
        """Keep the latest ``kept`` invocations (``None``: all): once the function's list
        holds a tenth over, count what was filed, then cut it back to ``kept``, with the
        lists of the instances that served since the last cut, and the journal."""
        invocations = self._invocations
        if kept is None or len(invocations) < kept + kept // 10:
            return  # (the common case: nothing to do)
        self.catch_up()
        for invocation in invocations[self._cut:]:
            instance = invocation.instance
            if instance is not None and len(instance.invocations) > kept:
                keep_latest(instance, kept)
        excess = len(invocations) - kept
        if excess > 0:
            gone = {id(inv) for inv in invocations[:excess]}
            del invocations[:excess]
            self._counted -= excess
            self.let_go += excess
            self._forget_entries(gone)
        self._cut = len(invocations)

    def _forget_entries(self, gone: set[int]) -> None:
        """Take the journal entries of the ``gone`` invocations out: the oldest invocation
        entries, so the scan starts past the events before them and stops once all are
        found."""
        journal, start = self._journal, self._clean
        end, kept = start, []
        while gone and end < len(journal):
            entry = journal[end]
            if entry.what == "invocation" and id(entry.record) in gone:
                gone.discard(id(entry.record))
            else:
                kept.append(entry)
            end += 1
        journal[start:end] = kept
        # (requests sent together are filed in order of time: a kept one can precede a gone one)
        self._clean = start + next(
            (n for n, entry in enumerate(kept) if entry.what == "invocation"), len(kept))
