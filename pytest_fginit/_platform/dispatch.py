"""`Dispatcher`: one send, from the events to the recorded invocations. [test process]

Every request of a send arrives at the same instant: its event is serialised and checked
against the body limit, it is placed (`placement`) before any user code runs, the instances it
waits for are brought up (`pool`), then the handlers run side by side (`parallel`), each on its
own timeline; what they did is recorded (`outcomes`), the shared clock moves to where the last
ended, and the journal is put in order of time.

(json's functions are bound at import so that a test mocking ``json`` for user code does not
break the emulator.)
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import Any

from .._clock import Clock, Timeline
from .._hosts.protocol import Injection, PhaseOutcome
from .._redaction import Redactor
from ..context import ContextFields
from ..errors import MAX_BODY_BYTES
from ..faults import FaultRule, Faults
from ..records import Instance, Invocation, JournalEntry
from .outcomes import JSON, body_size, error_of, function_error, record_result
from .parallel import Crew, at, side_by_side
from .placement import NoRoom, Request, Start, join_or_open, missing_reserved
from .pool import EmulatorListener, InstancePool
from .revision import Revision, check_working_folder, context_for

_Body = tuple[Any, str, Any]  # (the event, its JSON text, the event as user code receives it)
_Queue = list[tuple[Request, FaultRule | None]]  # (handlers one instance runs in turn)
_Handled = tuple[float, PhaseOutcome]  # (when the handler started, what it did)


class Dispatcher:
    """Serves the sends of one emulator (one at a time: the emulator holds the send lock)."""

    def __init__(self, pool: InstancePool, clock: Clock, faults: Faults,
                 invocations: list[Invocation], journal: list[JournalEntry],
                 listeners: tuple[EmulatorListener, ...], redact: Redactor) -> None:
        self._pool = pool
        self._clock = clock
        self._faults = faults
        self._invocations = invocations
        self._journal = journal
        self._listeners = listeners
        self._redact = redact
        self._requests = 0  # (numbers the request ids no test gave)
        self._fields: tuple[Revision | None, ContextFields | None] = (None, None)
        """A handler's context fields for the revision deployed (only the request id changes
        from one request to the next)."""

    def send(self, what: str, events: list[Any], ids: list[str | None]) -> list[Invocation]:
        """Serve ``events`` as requests that arrive together; their invocations, in order."""
        bodies = _serialise(what, events)
        if ids.count(None) != len(ids):
            _check_request_ids(what, ids)
        pool = self._pool
        pool.reclaim_idle()  # (before the requests arrive: their time is their own)
        pool.sends += 1
        pool.ready.begin_send()
        mark = len(self._journal)
        together = len(events) > 1
        requests, starts = self._place(bodies, ids, together)
        # (a request's start and its handler: one thread; a warm send needs no crew)
        crew = Crew() if together and starts else None
        try:
            # What raises here (an interrupt in user code, a failed instance_setup) is raised
            # once what did end is recorded, and the clock has moved past all of it.
            if starts:
                check_working_folder(pool.revision.config)
            failure = pool.bring_up(starts, crew) if starts else None
            if failure is None:
                if crew is not None:
                    crew.last_round()
                failure = self._run_handlers(requests, crew)
            for request in requests:
                if request.done:
                    if request.timeline is None:
                        self._file(request.invocation)
                    else:
                        at(request.timeline, self._file, request.invocation)
        finally:
            if crew is not None:
                crew.close()
            self.settle([r.timeline for r in requests] if together else [], mark)
        for request in requests:  # (what was recorded, also when the send failed midway)
            if request.done:
                for listener in self._listeners:
                    listener.invocation_finished(request.invocation)
        if failure is not None:
            raise failure
        return [r.invocation for r in requests]

    def top_up_reserved(self) -> None:
        """Bring the reserved instances up to ``reserved_instances`` (at start, and after a
        recycle or a code update); their attempts go to ``reserved_init_attempts``."""
        pool = self._pool
        wanted = pool.revision.config.reserved_instances
        if not wanted:  # (on every recycle(): no cost without reserved instances)
            return
        missing = missing_reserved(pool.ready, wanted)
        if not missing:
            return
        mark = len(self._journal)
        together = missing > 1
        starts = [Start(Timeline() if together else None, pool.reserved_init_attempts, None,
                        reserved=True) for _ in range(missing)]
        check_working_folder(pool.revision.config)
        crew = Crew()
        try:
            failure = pool.bring_up(starts, crew)
        finally:
            crew.close()
            self.settle([s.timeline for s in starts], mark)
        if failure is not None:
            raise failure

    def settle(self, timelines: list[Timeline | None], mark: int) -> None:
        """After a send (or reserved instances' start), whatever happened in it: phases run
        again (an interrupt was stopping them); the shared clock moves to the latest of the
        requests' timelines, and the journal from ``mark`` on is put in order of time."""
        self._pool.host.resume()
        if not timelines:  # (one request: on the shared clock, in order)
            return
        joined = [t for t in timelines if t is not None]
        if joined:
            self._clock.join(joined)
            self._journal[mark:] = sorted(self._journal[mark:], key=lambda entry: entry[0])

    # --- placing ------------------------------------------------------------------------

    def _place(self, bodies: list[_Body], ids: list[str | None], together: bool
               ) -> tuple[list[Request], list[Start]]:
        """A request for each body, given an instance (or a start to wait for) or refused."""
        config = self._pool.revision.config
        now = self._pool.elapsed()
        requests: list[Request] = []
        starts: list[Start] = []
        for (event, body, payload), request_id in zip(bodies, ids, strict=True):
            self._requests += 1
            invocation = Invocation(
                request_id=request_id or f"00000000-0000-4000-8000-{self._requests:012d}",
                event=payload,
                started_at=now,
                memory_size=config.memory_size,
                version=self._pool.revision.version,
                _redact=self._redact,
            )
            request = Request(invocation, Timeline() if together else None)
            requests.append(request)
            size = len(body) if len(body) <= MAX_BODY_BYTES else body_size(event, body)
            if size > MAX_BODY_BYTES:  # refused by the platform: no instance sees it
                # [assumption] the platform's wording of this refusal is not published.
                invocation.error = function_error(
                    "request_too_large", None,
                    f"Request body too large: {size} bytes, the limit is {MAX_BODY_BYTES}.",
                    self._redact)
                request.done = True
            else:
                self._assign(request, starts)
        self._pool.ready.end_placement()
        return requests, starts

    def _assign(self, request: Request, starts: list[Start]) -> None:
        """Give ``request`` an instance, before any user code of this send runs: a ready
        one, a place on one coming up for this send, or a new one; else it is throttled."""
        pool = self._pool
        config = pool.revision.config
        capacity = config.concurrency_num
        while (instance := pool.ready.pick(capacity)) is not None:
            if pool.give(instance):  # (else its process died while idle: it was stopped)
                request.instance = instance
                return
        decision = join_or_open(starts, capacity, len(pool.ready), config.max_instance_num)
        if decision is NoRoom.THROTTLE:
            request.invocation.error = function_error("throttled", None, "Too many requests.",
                                                      self._redact)
            request.done = True
        elif decision is NoRoom.OPEN:
            start = Start(request.timeline, request.invocation.init_attempts,
                          request.invocation.request_id, waiting=1)
            starts.append(start)
            request.start = start
        else:  # (coming up for this send: it has room)
            decision.waiting += 1
            request.start = decision

    # --- handling -----------------------------------------------------------------------

    def _run_handlers(self, requests: list[Request], crew: Crew | None
                      ) -> BaseException | None:
        """Run the handlers of the requests that have an instance, side by side; record
        them. Returns what one of them raised, if anything."""
        handled = _with_instances(requests)
        if not handled:
            return None
        if len(handled) == 1:  # (the common case, invoke(): no task lists)
            request = handled[0]
            timeline = request.timeline
            try:
                if timeline is None:
                    started, outcome = self._handle(request, self._faults.handler.take())
                else:
                    started, outcome = at(timeline, self._handle, request,
                                          self._faults.handler.take())
            except BaseException as exc:
                return exc
            if timeline is None:
                self._record_handling(request, started, outcome)
            else:
                at(timeline, self._record_handling, request, started, outcome)
            return None
        return self._run_side_by_side(handled, crew)

    def _run_side_by_side(self, handled: list[Request], crew: Crew | None
                          ) -> BaseException | None:
        faults = self._faults.handler
        pairs = [(r, faults.take_rule()) for r in handled]  # (faults in request order)
        queues: list[_Queue]
        if self._pool.host.serves_side_by_side:
            queues = [[pair] for pair in pairs]
        else:  # a host that serves one request at a time per instance: in request order
            by_instance: dict[Instance, _Queue] = {}
            for pair in pairs:
                assert pair[0].instance is not None
                by_instance.setdefault(pair[0].instance, []).append(pair)
            queues = list(by_instance.values())
        ended: list[list[_Handled]] = [[] for _ in queues]
        counted: list[int] = []  # (set at an interrupt: what ended before it)

        def abort() -> None:  # what ends from now on was stopped, not served: not recorded
            counted.extend(len(done) for done in ended)
            self._pool.host.abort()

        ran = side_by_side([(q[0][0].timeline if len(q) == 1 else None,
                             partial(self._handle_each, q, done)) for q, done in
                            zip(queues, ended, strict=True)], abort, crew)
        unused = []
        for n, (queue, done) in enumerate(zip(queues, ended, strict=True)):
            kept = done[:counted[n]] if counted else done
            for (request, _), (started, outcome) in zip(queue, kept, strict=False):
                at(request.timeline, self._record_handling, request, started, outcome)
            unused += [rule for _, rule in queue[len(kept):] if rule is not None]
        for rule in reversed(unused):  # (a queue stopped midway: its faults go back)
            faults.give_back(rule)
        return ran.failure

    def _handle_each(self, queue: _Queue, done: list[_Handled]) -> None:
        """Run the handlers of ``queue`` one after the other, adding each outcome to ``done``
        as it ends (one request: on the timeline the thread is on; several: each on its
        own)."""
        for request, rule in queue:
            injection = rule.injection() if rule is not None else None
            if len(queue) == 1:
                done.append(self._handle(request, injection))
            else:
                done.append(at(request.timeline, self._handle, request, injection))

    def _handle(self, request: Request, injection: Injection | None) -> _Handled:
        """Run the handler for ``request`` on its instance (on the request's thread)."""
        pool = self._pool
        revision = pool.revision
        timeout = revision.config.timeout
        deployed, fields = self._fields
        if deployed is not revision or fields is None:
            fields = context_for(revision, "", timeout)
            self._fields = (revision, fields)
        invocation = request.invocation
        fields = ContextFields._make((invocation.request_id, *fields[1:]))
        assert request.instance is not None
        started = self._clock.now()
        return started, pool.hosted(request.instance).handle(
            invocation.event, fields, started + timeout, injection)

    # --- recording ----------------------------------------------------------------------

    def _file(self, invocation: Invocation) -> None:
        self._invocations.append(invocation)
        self._journal.append(JournalEntry(self._pool.elapsed(), "invocation", invocation))

    def _record_handling(self, request: Request, started: float,
                         outcome: PhaseOutcome) -> None:
        invocation, instance = request.invocation, request.instance
        assert instance is not None
        request.done = True
        invocation.instance = instance
        invocation.duration_ms = (outcome.ended - started) * 1000.0
        if outcome.peak_bytes is not None:
            invocation.memory_used_mb = math.ceil(outcome.peak_bytes / (1 << 20))
        invocation.handler_log = outcome.log
        instance.invocations.append(invocation)
        # (idle from now on; with concurrency_num > 1, from when its last request ended)
        instance.last_used_at = max(instance.last_used_at, self._pool.elapsed())
        invocation.error = None if outcome.status == "ok" else error_of(
            outcome, "handler_error", "handler_timeout", self._pool.revision.config.timeout,
            self._redact)
        if invocation.error is None:
            record_result(invocation, outcome, self._redact)
        elif (outcome.status in ("timeout", "crashed", "memory_exceeded")
              and instance.state == "ready"):
            # [assumption] a timed-out instance is discarded (reference, section 2); one whose
            # process ended or passed its memory is gone. Other requests it was serving at the
            # same time (concurrency_num > 1) have ended by now: in-process they ran to their
            # end; in a process, they were cut off with it.
            self._pool.stop(instance, "killed")


MAX_EVENT_DEPTH = 200
"""How deeply an event's lists and objects may nest. [assumption] The platform's limit is not
published; this one keeps every step of a send well inside Python's recursion limit (1000
frames by default), so that both isolation modes take the same events: the JSON round trip
takes a frame per level, the pickle to an instance process two, on top of the test's stack."""

_REQUEST_ID = re.compile(r"[!-~]{1,64}")
"""A request id a test gives: 1-64 visible ASCII characters (FunctionGraph's are UUIDs; its
async API takes ids of up to 64 characters). No spaces or line breaks: the id goes into log
lines (``<time> <request id> <LEVEL> <message>``) and a response header."""


def _check_request_ids(what: str, ids: list[str | None]) -> None:
    for request_id in ids:
        if request_id is not None and not (isinstance(request_id, str)
                                           and _REQUEST_ID.fullmatch(request_id)):
            raise ValueError(
                f"{what}: request_id {request_id!r}: allowed: None (one is made up) or a str "
                "of 1-64 visible ASCII characters (no spaces, tabs or line breaks), e.g. a "
                "UUID")


def _serialise(what: str, events: list[Any]) -> list[_Body]:
    """Each event with its JSON text and what user code receives (the event after a JSON
    round trip); `TypeError` naming the event that cannot be sent, `ValueError` for one
    nested more than `MAX_EVENT_DEPTH` deep."""
    bodies = []
    dumps, loads = JSON.dumps, JSON.loads
    for n, event in enumerate(events):
        try:
            body = dumps(event)
            payload = loads(body)
        except RecursionError:
            body, payload = "", None
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what}: {_which(events, n)} must be JSON-serialisable: "
                            f"{exc}") from None
        # (a body with few brackets cannot nest deeply: only those are walked)
        if not body or (body.count("[") + body.count("{") > MAX_EVENT_DEPTH
                        and _depth(payload) > MAX_EVENT_DEPTH):
            raise ValueError(f"{what}: {_which(events, n)} is nested too deeply: allowed: at "
                             f"most {MAX_EVENT_DEPTH} levels of lists and objects")
        bodies.append((event, body, payload))
    return bodies


def _which(events: list[Any], n: int) -> str:
    return "the event" if len(events) == 1 else f"event {n}"


def _depth(value: Any) -> int:
    """How deeply ``value``'s lists and dicts nest (without recursion: it may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if deepest > MAX_EVENT_DEPTH:
                return deepest
            stack.extend((child, level + 1)
                         for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _with_instances(requests: list[Request]) -> list[Request]:
    """The requests with an instance to run on; a request that waited for a start takes its
    instance (a cold start, from when the start ended), or its last error if all failed."""
    handled: list[Request] = []
    for request in requests:
        start = request.start
        if start is not None:  # it waited for a new instance: from when that ended
            request.invocation.cold_start = True
            request.instance = start.instance
            if request.timeline is not start.timeline:
                assert request.timeline is not None and start.timeline is not None
                request.timeline.lead = start.timeline.lead
            if start.instance is None:  # every attempt failed: the last error stands
                request.invocation.error = start.error
                request.done = True
        if request.instance is not None:
            handled.append(request)
    return handled
