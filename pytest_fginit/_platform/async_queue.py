"""The asynchronous request queue of one function, on the emulator's clock (A1-A17, A25).
[test process]

A request is accepted at once (WAIT) and run when due: FIFO (A9), as many at a time as the
function has room for (``max_instance_num`` x ``concurrency_num``), each attempt an ordinary
synchronous send, so that init retries, timeouts and scale-out follow the lifecycle rules.
After an attempt:

* ok: SUCCESS, and ``on_success`` receives the record;
* throttled: put back after 1 s, doubling up to 300 s (A11), not counted as a retry;
* failed: retried after the A15 wait, up to ``max_async_retry_attempts`` (none without an
  async configuration, A12); a retry whose start would pass the event age is not run, and the
  request ends FAIL; the last failure notifies ``on_failure`` once (A25).

Before every attempt the event's age is checked (A16): past ``max_async_event_age_in_seconds``
since acceptance the request ends DISCARD, and ``on_failure`` is told ``EventAgeExceeded``.

The queue never moves the clock and never runs code: the emulator passes time to the next due
request (`next_due`) and gives `run_due` the function that sends a batch.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from .._async_config import AsyncPolicy, Destination
from ..async_records import AsyncInvocation, Delivery
from ..records import Invocation
from .async_notice import notification

SendBatch = Callable[[list[AsyncInvocation]], list[Invocation]]
"""Sends the requests' events at the same moment; their invocations, in the same order."""


class AsyncQueue:
    """The queue, its requests (all of them, for assertions) and its deliveries."""

    def __init__(self, policy: AsyncPolicy, *, function_urn: str, room: Callable[[], int],
                 now: Callable[[], float], epoch_of: Callable[[float], float],
                 note: Callable[[str, str], None] = lambda kind, text: None,
                 forward: Callable[[Destination, Delivery], None] | None = None) -> None:
        self.policy = policy
        self.requests: list[AsyncInvocation] = []
        self.deliveries: list[Delivery] = []
        self.function_urn = function_urn
        self._room = room
        self._now = now  # (the emulator's elapsed seconds)
        self._epoch_of = epoch_of
        self._forward = forward
        self._note = note  # (a line of the journal, for the failure report's timeline)
        self._due: list[tuple[float, int, AsyncInvocation]] = []  # (when, order, request)
        self._order = itertools.count()

    def accept(self, event: Any, request_id: str) -> AsyncInvocation:
        now = self._now()
        request = AsyncInvocation(request_id, event, now, next_attempt_at=now)
        self.requests.append(request)
        self._note("async_accepted", f"async request {request_id} accepted, queued")
        self._put(request, now)
        return request

    def room(self) -> int:
        """How many requests may run at once now (0: the function is disabled)."""
        return self._room()

    def next_due(self) -> float | None:
        """When the next waiting request is due, or ``None`` if none waits."""
        return self._due[0][0] if self._due else None

    @property
    def waiting(self) -> list[AsyncInvocation]:
        return [r for r in self.requests if r.status == "WAIT"]

    def run_due(self, send: SendBatch) -> list[AsyncInvocation]:
        """Run one batch of the requests due now (FIFO, as many as there is room for); the
        requests it ran or ended."""
        now = self._now()
        batch: list[AsyncInvocation] = []
        ended: list[AsyncInvocation] = []
        room = max(self._room(), 1)  # (a disabled function's requests meet its throttle)
        while self._due and self._due[0][0] <= now and len(batch) < room:
            request = heapq.heappop(self._due)[2]
            if now - request.accepted_at > self.policy.max_async_event_age_in_seconds:
                self._end(request, "DISCARD", now)  # A16: too old to start
                ended.append(request)
            else:
                request.status, request.next_attempt_at = "RUNNING", None
                batch.append(request)
        if batch:
            invocations = send(batch)
            ended_at = self._now()  # (the clock stands where the last of them ended)
            for request, invocation in zip(batch, invocations, strict=True):
                self._after(request, invocation, ended_at)
        return batch + ended

    def _after(self, request: AsyncInvocation, invocation: Invocation, ended_at: float) -> None:
        error = invocation.error
        if error is not None and error.kind == "throttled":
            request.throttled += 1
            wait = self.policy.throttle_wait(request.throttled)
            self._note("async_throttled", f"async request {request.request_id} throttled, "
                       "back in the queue "
                       f"for {wait:g} s")
            self._retry(request, ended_at + wait, on_age="DISCARD")
            return
        request.attempts.append(invocation)
        if error is None:
            self._end(request, "SUCCESS", ended_at)
            return
        retry = len(request.attempts)  # (the number of the retry this would be)
        if retry > self.policy.retries:
            self._end(request, "FAIL", ended_at)
            return
        wait = self.policy.retry_wait(retry)
        self._note("async_retry", f"async request {request.request_id}: attempt {retry} "
                   "failed, retry "
                   f"{retry} of {self.policy.retries} in {wait:g} s")
        self._retry(request, ended_at + wait, on_age="FAIL")

    def _retry(self, request: AsyncInvocation, at: float, *, on_age: str) -> None:
        if at - request.accepted_at > self.policy.max_async_event_age_in_seconds:
            # A15: a failure retry that would start too late is not run (FAIL); A11: a
            # throttled request whose age runs out is discarded.
            self._end(request, "FAIL" if on_age == "FAIL" else "DISCARD", at)
            return
        self._put(request, at)

    def _put(self, request: AsyncInvocation, at: float) -> None:
        request.status, request.next_attempt_at = "WAIT", at
        heapq.heappush(self._due, (at, next(self._order), request))

    def _end(self, request: AsyncInvocation, status: Any, at: float) -> None:
        request.status, request.ended_at, request.next_attempt_at = status, at, None
        destination = self.policy.on_success if status == "SUCCESS" else self.policy.on_failure
        attempts = len(request.attempts)
        ended = (f"async request {request.request_id} {status} after {attempts} attempt"
                 f"{'' if attempts == 1 else 's'}")
        if status == "DISCARD":
            ended += (f": older than max_async_event_age_in_seconds "
                      f"({self.policy.max_async_event_age_in_seconds} s)")
        elif status == "FAIL" and not self.policy.configured:
            # (A12: the surprise of a first async test; say which key turns retries on)
            ended += " (no async configuration: not retried; set max_async_retry_attempts)"
        if destination is None:
            self._note(f"async_{status.lower()}", ended)
            return
        record = notification(request, policy=self.policy, function_urn=self.function_urn,
                              epoch_of=self._epoch_of)
        request.notification = record
        delivery = Delivery(destination.kind, destination.where(request.request_id),
                            "success" if status == "SUCCESS" else "failure",
                            request.request_id, record)
        self.deliveries.append(delivery)
        self._note(f"async_{status.lower()}", ended)
        self._note("destination_delivered", f"async request {request.request_id}: record sent "
                                            f"to {destination.kind} {delivery.where}")
        if self._forward is not None:
            self._forward(destination, delivery)
