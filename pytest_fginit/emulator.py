"""`FunctionEmulator`: the platform's control plane for one function.

It decides what FunctionGraph decides (reference, section 1 and 2): which instance serves a
request, when an instance is created and initialized, how often a failed initialization is
retried (R3), what a timeout does to an instance, what is billed. How user code is loaded and
run is the host's business (`host.py`); what happened is kept as `records`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from functools import partial
from json import dumps as _json_dumps
from json import loads as _json_loads
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from ._clock import Clock, RealClock, Timeline, VirtualClock, enter_timeline
from ._hosts import open_host
from ._hosts.protocol import (
    HostedInstance,
    Injection,
    InstanceHost,
    InstanceSpec,
    PhaseOutcome,
    StartOutcome,
)
from ._redaction import redactor
from .config import FunctionConfig
from .context import ContextFields, cpu_millicores
from .errors import (
    ERROR_CODES,
    MAX_BODY_BYTES,
    ErrorKind,
    FunctionConfigError,
    FunctionError,
    InstanceSetupError,
)
from .faults import FaultRule, Faults
from .records import (
    Billing,
    InitAttempt,
    Instance,
    InstanceState,
    Invocation,
    JournalEntry,
    PreStop,
)
from .scheduler import Request, Start, pick_instance, side_by_side

_T = TypeVar("_T")
_VERSION = re.compile(r"^(?!latest$)[A-Za-z0-9][A-Za-z0-9._-]{0,41}$")


class EmulatorListener(Protocol):
    """Told about what happens, as it happens (the plugin relays these to pluggy hooks)."""

    def instance_state_changed(self, instance: Instance, previous: InstanceState | None) -> None:
        ...

    def invocation_finished(self, invocation: Invocation) -> None: ...


class FunctionEmulator:
    """Emulated FunctionGraph instances of one function.

    Use it as a context manager (``with FunctionEmulator(config) as fn: fn.invoke({...})``) or
    call `start()` and `close()`; in pytest, the `fg_function` fixture does this for you.
    """

    def __init__(
        self,
        config: FunctionConfig,
        *,
        listeners: Iterable[EmulatorListener] = (),
    ) -> None:
        self.faults = Faults(has_initializer=config.initializer_handler is not None,
                             has_pre_stop=config.pre_stop_handler is not None,
                             redact=self.redact)
        self.instances: list[Instance] = []
        """Every instance created, in creation order."""
        self.invocations: list[Invocation] = []
        """Every invocation, in order."""
        self.journal: list[JournalEntry] = []
        self.reserved_init_attempts: list[InitAttempt] = []
        """The attempts to bring up reserved instances (``reserved_instances``): no request
        waited for them."""
        self._ready: list[Instance] = []  # live instances able to serve, in order of readiness
        self._hosted: dict[Instance, HostedInstance] = {}  # each instance's handle on its host
        self._last_send: dict[Instance, int] = {}
        """The count of sends when each instance was last given a request, or became ready."""
        self._listeners = tuple(listeners)
        self._clock: Clock = VirtualClock() if config.virtual_time else RealClock()
        self._version = "latest"
        self._configure(config)
        self._t0 = 0.0
        self._state: str = "new"
        self._requests = 0
        self._sends = 0
        self._sending = threading.Lock()  # (held while a send runs: one at a time)
        self._reserved_billed = (0, 0.0)  # reserved instances' initialization: ms, GB-s

    def _configure(self, config: FunctionConfig) -> None:
        """Take ``config`` on: what instances created from now on run, and how."""
        self.config = config
        self._redact = redactor(config.secrets)
        self.faults.initializer.available = config.initializer_handler is not None
        self.faults.pre_stop.available = config.pre_stop_handler is not None
        self._host: InstanceHost = open_host(
            config.isolation, self._clock, real_time_limit=config.real_time_limit,
            redact=self._redact, memory_size=config.memory_size,
            inherit_env=config.inherit_env, secrets=config.secrets,
        )
        handler_path = config.handler_path  # (looks at the file system: once)
        self._spec = InstanceSpec(
            code_root=config.code_root,
            handler_module=config.handler_module,
            handler_function=config.handler_function,
            initializer_function=config.initializer_function,
            handler_file=(str(handler_path) if "." not in config.handler_module
                          and handler_path and handler_path.suffix == ".py" else None),
            instance_setup=config.instance_setup,
            pre_stop_function=config.pre_stop_function,
        )

    # --- life ----------------------------------------------------------------------------

    def start(self) -> FunctionEmulator:
        if self._state == "new":
            self._clock.start()
            self._t0 = self._clock.now()
            try:
                self._host.open(self._environment())
            except BaseException:
                self._clock.stop()  # leave no freeze behind
                raise
            self._state = "running"
            try:
                self._top_up_reserved()
            except BaseException:
                self.close()
                raise
        elif self._state == "closed":
            raise RuntimeError("this FunctionEmulator is closed; create a new one")
        return self

    def close(self) -> None:
        """Stop every instance, restore the process (clock, environment, ``time.sleep``)."""
        if self._state != "running":
            self._state = "closed"
            return
        try:
            # Every instance is stopped, also an instance left initializing by an interrupt
            # (KeyboardInterrupt in user code), before a listener is told: a listener that
            # raises must not leave instances' modules behind.
            live = [i for i in self.instances if i.state in ("ready", "initializing")]
            try:
                for instance in live:  # (the end of the test stops them: pre-stop first)
                    hosted = self._hosted.get(instance)
                    if instance.state == "ready" and hosted is not None and hosted.alive():
                        self._run_pre_stop(instance)
            finally:
                for instance in live:
                    hosted = self._hosted.get(instance)
                    if hosted is not None:
                        hosted.stop()
                for instance in live:
                    self._set_state(instance, "recycled")
        finally:
            self._state = "closed"
            try:
                self._host.close()
            finally:
                self._clock.stop()

    def __enter__(self) -> FunctionEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- what a test does ----------------------------------------------------------------

    def invoke(self, event: Any = None, *, request_id: str | None = None) -> Invocation:
        """Send one synchronous request; the answer is recorded and returned, never raised."""
        return self._send("invoke()", [event], [request_id])[0]

    def invoke_concurrently(self, events: Iterable[Any], *,
                            request_ids: Iterable[str | None] | None = None
                            ) -> list[Invocation]:
        """Send ``events`` at the same moment; return their invocations in the same order.

        They all arrive at the same instant of the emulator's clock, and each is given an
        instance before any user code runs: an idle ready instance, a place on a busy one
        (``concurrency_num`` > 1), or a new one, which runs its initializer first; over
        ``max_instance_num`` a request is ``throttled``. Then initializers and handlers run
        at the same time on real threads (in-process) or in the instances' processes, each
        request on its own timeline: one request's ``time.sleep`` does not delay another's.
        The emulator's clock then stands where the last of them ended.
        """
        events = list(events)
        ids: list[str | None] = ([None] * len(events) if request_ids is None
                                 else list(request_ids))
        if len(ids) != len(events):
            raise ValueError(f"invoke_concurrently(): {len(events)} events but {len(ids)} "
                             "request_ids")
        if not events:
            return []
        return self._send("invoke_concurrently()", events, ids)

    def _send(self, what: str, events: list[Any], ids: list[str | None]) -> list[Invocation]:
        self._require_running(what)
        if not self._sending.acquire(blocking=False):
            raise RuntimeError(
                f"{what}: a request is already running on this emulator: send requests that "
                "arrive together with invoke_concurrently(), one call at a time"
            )
        try:
            return self._serve_all(what, events, ids)
        finally:
            self._sending.release()

    def _serve_all(self, what: str, events: list[Any], ids: list[str | None]
                   ) -> list[Invocation]:
        bodies = []
        for n, event in enumerate(events):
            try:
                body = _json_dumps(event)
                bodies.append((event, body, _json_loads(body)))
            except (TypeError, ValueError) as exc:
                which = "the event" if len(events) == 1 else f"event {n}"
                raise TypeError(f"{what}: {which} must be JSON-serialisable: {exc}") from None
        self._reclaim_idle()  # (before the requests arrive: their time is their own)
        self._sends += 1
        mark = len(self.journal)
        now = self._elapsed()
        together = len(events) > 1
        requests: list[Request] = []
        load: dict[Instance, int] = {}
        starts: list[Start] = []
        for (event, body, payload), request_id in zip(bodies, ids, strict=True):
            self._requests += 1
            invocation = Invocation(
                request_id=request_id or f"00000000-0000-4000-8000-{self._requests:012d}",
                event=payload,
                started_at=now,
                memory_size=self.config.memory_size,
                _redact=self._redact,
            )
            request = Request(invocation, Timeline() if together else None)
            requests.append(request)
            size = _body_size(event, body)
            if size > MAX_BODY_BYTES:  # refused by the platform: no instance sees it
                # [assumption] the platform's wording of this refusal is not published.
                invocation.error = self._error(
                    "request_too_large", None,
                    f"Request body too large: {size} bytes, the limit is {MAX_BODY_BYTES}.")
                request.done = True
            else:
                self._assign(request, load, starts)
        try:
            # What raises here (an interrupt in user code, a failed instance_setup) is raised
            # once what did end is recorded, and the clock has moved past all of it.
            failure = self._bring_up(starts) if starts else None
            if failure is None:
                failure = self._run_handlers(requests)
            for request in requests:
                if request.done:
                    self._at(request.timeline, self._file, request.invocation)
        finally:
            self._settle([r.timeline for r in requests] if together else [], mark)
        for request in requests:  # (what was recorded, also when the send failed midway)
            if request.done:
                for listener in self._listeners:
                    listener.invocation_finished(request.invocation)
        if failure is not None:
            raise failure
        return [r.invocation for r in requests]

    def _run_handlers(self, requests: list[Request]) -> BaseException | None:
        """Run the handlers of the requests that have an instance, side by side; record
        them. Returns what one of them raised, if anything."""
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
        if not handled:
            return None
        faults = self.faults.handler
        if len(handled) == 1:  # (the common case, invoke(): no task lists)
            request = handled[0]
            try:
                started, outcome = self._at(request.timeline, self._handle, request,
                                            faults.take())
            except BaseException as exc:
                return exc
            self._at(request.timeline, self._record_handling, request, started, outcome)
            return None
        pairs = [(r, faults.take_rule()) for r in handled]  # (faults in request order)
        queues: list[list[tuple[Request, FaultRule | None]]]
        if self._host.serves_side_by_side:
            queues = [[pair] for pair in pairs]
        else:  # a host that serves one request at a time per instance: in request order
            by_instance: dict[Instance, list[tuple[Request, FaultRule | None]]] = {}
            for pair in pairs:
                assert pair[0].instance is not None
                by_instance.setdefault(pair[0].instance, []).append(pair)
            queues = list(by_instance.values())
        ended: list[list[tuple[float, PhaseOutcome]]] = [[] for _ in queues]
        counted: list[int] = []  # (set at an interrupt: what ended before it)

        def abort() -> None:  # what ends from now on was stopped, not served: not recorded
            counted.extend(len(done) for done in ended)
            self._host.abort()

        ran = side_by_side([(q[0][0].timeline if len(q) == 1 else None,
                             partial(self._handle_each, q, done)) for q, done in
                            zip(queues, ended, strict=True)], abort)
        unused = []
        for n, (queue, done) in enumerate(zip(queues, ended, strict=True)):
            kept = done[:counted[n]] if counted else done
            for (request, _), (started, outcome) in zip(queue, kept, strict=False):
                self._at(request.timeline, self._record_handling, request, started, outcome)
            unused += [rule for _, rule in queue[len(kept):] if rule is not None]
        for rule in reversed(unused):  # (a queue stopped midway: its faults go back)
            faults.give_back(rule)
        return ran.failure

    def _handle_each(self, queue: list[tuple[Request, FaultRule | None]],
                     done: list[tuple[float, PhaseOutcome]]) -> None:
        """Run the handlers of ``queue`` one after the other, adding each outcome to ``done``
        as it ends (one request: on the timeline the thread is on; several: each on its
        own)."""
        for request, rule in queue:
            injection = rule.injection() if rule is not None else None
            if len(queue) == 1:
                done.append(self._handle(request, injection))
            else:
                done.append(self._at(request.timeline, self._handle, request, injection))

    def advance(self, seconds: float) -> None:
        """Move the clock user code sees forward by ``seconds`` (virtual time only)."""
        self._require_running("advance()")
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not 0 <= seconds < math.inf):
            raise ValueError(f"advance() moves the clock forward only: seconds must be a "
                             f"finite number >= 0, not {seconds!r}")
        if not self._clock.virtual:
            raise RuntimeError("advance() needs virtual_time=True; this function runs on "
                               "real time")
        target = self._elapsed() + seconds
        while True:  # reclaim each instance at its idle deadline, on the way
            idle_since = [i.last_used_at for i in self._ready if not i.reserved]
            if not idle_since:
                break
            due = min(idle_since) + self.config.instance_idle_timeout
            if due >= target:
                break
            self._clock.pass_time(max(0.0, due - self._elapsed()) + 1e-6)
            self._reclaim_idle()
        self._clock.pass_time(max(0.0, target - self._elapsed()))
        self.journal.append(JournalEntry(self._elapsed(), "advance", seconds))

    def recycle(self) -> None:
        """Stop every live instance: the next request is a cold start (unless the function
        has ``reserved_instances``: new ones are brought up at once, as the platform does)."""
        self._require_running("recycle()")
        for instance in list(self._ready):
            self._stop(instance, "recycled")
        self._top_up_reserved()

    def update(self, **fields: Any) -> FunctionConfig:
        """Deploy new code or configuration (R11): ``fields`` are `FunctionConfig` keys
        (``code_root=`` for new code; the same folder changed on disk is new code too). The
        live instances stop (pre-stop first, once their requests are done: here, one request
        runs at a time); every request from now on goes to new instances, which run the new
        initializer first. Returns the new configuration."""
        self._require_running("update()")
        for fixed in ("isolation", "virtual_time"):
            if fixed in fields and fields[fixed] != getattr(self.config, fixed):
                raise FunctionConfigError(
                    fixed, f"cannot change on a running emulator (it is "
                           f"{getattr(self.config, fixed)!r}): start a new FunctionEmulator")
        config = self.config.replace(**fields)  # (checked before anything stops)
        self._redeploy(config, f"updated ({', '.join(sorted(fields)) or 'same configuration'})")
        return config

    def publish_version(self, version: str) -> None:
        """Publish the current code and configuration as ``version``: requests from now on
        run on new instances of it, whose context says ``getVersion() == version``."""
        self._require_running("publish_version()")
        if not isinstance(version, str) or not _VERSION.match(version):
            raise FunctionConfigError(
                "version", f"{version!r}: allowed: 1-42 letters, digits, '.', '-' or '_', "
                           "starting with a letter or digit, and not 'latest'")
        self._version = version
        self._redeploy(self.config, f"version {version} published")

    def _redeploy(self, config: FunctionConfig, what: str) -> None:
        for instance in list(self._ready):
            self._stop(instance, "recycled")
        self._host.close()  # (the environment of instances changes with the configuration)
        self._configure(config)
        self._host.open(self._environment())
        self.journal.append(JournalEntry(self._elapsed(), "deploy", what))
        self._top_up_reserved()

    @property
    def billing(self) -> Billing:
        """What this function's requests so far are billed, and what it took to serve them."""
        attempts = [a for i in self.invocations for a in i.init_attempts]
        attempts += self.reserved_init_attempts
        reserved_ms, reserved_gb_s = self._reserved_billed
        return Billing(
            invocations=len(self.invocations),
            instances=len(self.instances),
            cold_starts=sum(1 for i in self.invocations if i.cold_start),
            init_failures=sum(1 for a in attempts if not a.ok),
            init_timeouts=sum(1 for a in attempts
                              if a.error is not None and a.error.kind == "init_timeout"),
            billed_duration_ms=sum(i.billed_duration_ms for i in self.invocations) + reserved_ms,
            gb_s=sum(i.billed_gb_s for i in self.invocations) + reserved_gb_s,
        )

    @property
    def now(self) -> float:
        """Seconds since the epoch on the emulator's clock."""
        return self._clock.now()

    @property
    def elapsed(self) -> float:
        """Seconds on the emulator's clock since it started."""
        return self._elapsed()

    def redact(self, text: str) -> str:
        """``text`` with every secret of this function's configuration masked."""
        return self._redact(text)

    def __repr__(self) -> str:
        live = sum(1 for i in self.instances if i.state == "ready")
        return (f"<FunctionEmulator {self.config.func_name!r} {self._state}: "
                f"{len(self.instances)} instances ({live} ready), "
                f"{len(self.invocations)} invocations>")

    # --- the platform's rules --------------------------------------------------------------

    def _reclaim_idle(self) -> None:
        """Stop the instances idle for ``instance_idle_timeout`` (reference, section 2);
        reserved instances stay."""
        now = self._elapsed()
        for instance in list(self._ready):
            if (not instance.reserved
                    and now - instance.last_used_at > self.config.instance_idle_timeout):
                self._stop(instance, "reclaimed")

    def _run_pre_stop(self, instance: Instance) -> None:
        """Run the pre-stop handler of a ready instance that is being stopped, and record it.

        (An instance whose handler timed out, crashed or ran out of memory gets none: the
        platform killed it.)"""
        hosted = self._hosted.get(instance)
        if (self.config.pre_stop_handler is None or hosted is None
                or instance.pre_stop is not None):  # (once: also after an interrupted run)
            return
        timeout = self.config.pre_stop_timeout or 3
        started = self._clock.now()
        deadline = started + timeout
        context = self._context(f"pre-stop-{instance.id}", timeout, deadline)
        # Marked as run before it runs: an interrupt in it must not make close() run it again.
        instance.pre_stop = PreStop(ok=False, error=None, duration_ms=0.0,
                                    started_at=started - self._t0)
        outcome = hosted.pre_stop(context, deadline, self.faults.pre_stop.take())
        error = self._error_of(outcome, "pre_stop_failed", "pre_stop_timeout", timeout)
        instance.pre_stop = PreStop(ok=error is None, error=error,
                                    duration_ms=(outcome.ended - started) * 1000.0,
                                    started_at=started - self._t0, log=outcome.log)
        self.journal.append(JournalEntry(instance.pre_stop.started_at, "pre_stop", instance))

    def _assign(self, request: Request, load: dict[Instance, int],
                starts: list[Start]) -> None:
        """Give ``request`` an instance, before any user code of this send runs: a ready
        one, a place on one coming up for this send, or a new one; else it is throttled."""
        capacity = self.config.concurrency_num
        while (instance := pick_instance(self._ready, load, capacity, self._last_send)) is not None:
            hosted = self._hosted.get(instance)
            if hosted is not None and hosted.alive():
                load[instance] = load.get(instance, 0) + 1
                self._last_send[instance] = self._sends
                request.instance = instance
                return
            self._stop(instance, "killed")  # its process died while idle: the platform's
        for start in starts:                # instance would be gone too
            if start.waiting < capacity:  # (coming up for this send: it has room)
                start.waiting += 1
                request.start = start
                return
        limit = self.config.max_instance_num
        if limit == -1 or len(self._ready) + len(starts) < limit:
            start = Start(request.timeline, request.invocation.init_attempts,
                          request.invocation.request_id, waiting=1)
            starts.append(start)
            request.start = start
            return
        # [assumption] with max_instance_num 0 (the function disabled) the refusal is the same.
        request.invocation.error = self._error("throttled", None, "Too many requests.")
        request.done = True

    def _top_up_reserved(self) -> None:
        """Bring the reserved instances up to ``reserved_instances`` (at start, and after a
        recycle or a code update); their attempts go to `reserved_init_attempts`."""
        wanted = self.config.reserved_instances
        if not wanted:  # (on every recycle(): no cost without reserved instances)
            return
        missing = wanted - sum(1 for i in self._ready if i.reserved)
        if missing <= 0:
            return
        mark = len(self.journal)
        together = missing > 1
        starts = [Start(Timeline() if together else None, self.reserved_init_attempts, None,
                        reserved=True) for _ in range(missing)]
        try:
            failure = self._bring_up(starts)
        finally:
            self._settle([s.timeline for s in starts], mark)
        if failure is not None:
            raise failure

    def _settle(self, timelines: list[Timeline | None], mark: int) -> None:
        """After a send (or reserved instances' start), whatever happened in it: phases run
        again (an interrupt was stopping them); the shared clock moves to the latest of the
        requests' timelines, and the journal from ``mark`` on is put in order of time."""
        self._host.resume()
        joined = [t for t in timelines if t is not None]
        if joined:
            self._clock.join(joined)
            self.journal[mark:] = sorted(self.journal[mark:], key=lambda entry: entry[0])

    def _bring_up(self, starts: list[Start]) -> BaseException | None:
        """Bring up an instance for each of ``starts``, side by side: up to 1 + init_retries
        attempts each, every attempt on a new instance (R1-R3). Returns what stopped it, if
        anything did (what had ended by then is recorded).

        The attempts of one round are created in order and get the initializer's faults in
        that order; a fault held for an instance whose code did not load is given back."""
        config = self.config
        timeout = config.initializer_timeout or config.timeout
        faults = self.faults.initializer
        pending = list(starts)
        for _ in range(1 + config.init_retries):
            if not pending:
                return None
            tasks: list[tuple[Timeline | None, Callable[[], tuple[float, StartOutcome]]]] = []
            held: list[_HeldFault | None] = []
            created: list[Start] = []
            try:
                for start in pending:
                    instance = self._at(start.timeline, self._new_instance, start.reserved)
                    start.instance = instance
                    created.append(start)
                    hosted = self._hosted[instance] = self._host.start_instance(self._spec)
                    instance.pid = hosted.pid  # (start_instance may fail: no attempt then)
                    rule = faults.take_rule()
                    held.append(_HeldFault(rule) if rule is not None else None)
                    tasks.append((start.timeline, partial(
                        self._start_phase, instance, start.request_id, timeout, held[-1])))
                ran = side_by_side(tasks, self._host.abort)
            except BaseException as exc:  # no attempt of this round ran: none is recorded
                for start in created:
                    assert start.instance is not None
                    self._at(start.timeline, self._stop, start.instance, "failed")
                    start.instance = None
                return exc
            finally:
                for fault in reversed(held):
                    if fault is not None and not fault.used:
                        faults.give_back(fault.rule)
            setup_error: str | None = None
            retrying = []
            for start, result in zip(pending, ran.results, strict=True):
                if result is None:  # interrupted: left initializing (close() stops it)
                    continue
                started, outcome = result
                failure = self._at(start.timeline, self._record_attempt, start, started,
                                   outcome, timeout)
                if failure is not None and outcome.phase.status == "setup_error":
                    setup_error = setup_error or failure
                elif failure is not None:
                    retrying.append(start)
            if ran.failure is not None:
                return ran.failure
            if setup_error is not None:
                return InstanceSetupError(setup_error)
            pending = retrying
        return None

    def _new_instance(self, reserved: bool) -> Instance:
        instance = Instance(id=f"instance-{len(self.instances) + 1}",
                            created_at=self._elapsed(), reserved=reserved)
        self.instances.append(instance)
        self._set_state(instance, "initializing")
        return instance

    def _start_phase(self, instance: Instance, request_id: str | None, timeout: int,
                     fault: _HeldFault | None) -> tuple[float, StartOutcome]:
        """Load the instance's code and run its initializer (on the request's thread)."""
        started = self._clock.now()
        deadline = started + timeout
        context = self._context(request_id or f"init-{instance.id}", timeout, deadline)
        hosted = self._hosted[instance]
        try:
            return started, hosted.start(context, deadline, fault)
        finally:  # (also when an interrupt stopped it: what loaded is there to look at)
            instance.module = hosted.module

    def _record_attempt(self, start: Start, started: float, outcome: StartOutcome,
                        timeout: int) -> str | None:
        """Record one attempt; the instance is ready, or failed and abandoned (R3). Returns
        what went wrong, if anything."""
        instance = start.instance
        assert instance is not None
        phase = outcome.phase
        if phase.status == "setup_error":
            self._stop(instance, "failed")
            start.instance = None
            assert phase.exception is not None
            return f"{instance.id}: {phase.exception.message}"
        if outcome.loaded and self._spec.initializer_function is not None:
            instance.initializer_calls += 1
        error = self._error_of(phase, "init_failed" if outcome.loaded else "load_error",
                               "init_timeout", timeout)
        attempt = InitAttempt(instance=instance, ok=error is None, error=error,
                              duration_ms=(phase.ended - started) * 1000.0,
                              started_at=started - self._t0, log=phase.log)
        start.attempts.append(attempt)
        self.journal.append(JournalEntry(attempt.started_at, "attempt", attempt))
        if start.reserved:  # [assumption] billed like on-demand initialization (R10), at the
            ms, gb_s = self._reserved_billed  # memory of the time; idle time is not emulated
            billed = math.ceil(round(attempt.duration_ms, 6))
            self._reserved_billed = (ms + billed,
                                     gb_s + self.config.memory_size / 1024 * billed / 1000)
        if error is None:
            self._last_send[instance] = self._sends
            self._set_state(instance, "ready")
            return None
        start.error = error
        start.instance = None
        self._stop(instance, "failed")
        return str(error)

    def _handle(self, request: Request, injection: Injection | None
                ) -> tuple[float, PhaseOutcome]:
        """Run the handler for ``request`` on its instance (on the request's thread)."""
        timeout = self.config.timeout
        started = self._clock.now()
        invocation = request.invocation
        context = self._context(invocation.request_id, timeout, started + timeout)
        assert request.instance is not None
        return started, self._hosted[request.instance].handle(invocation.event, context,
                                                        started + timeout, injection)

    def _file(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        self.journal.append(JournalEntry(self._elapsed(), "invocation", invocation))

    def _record_handling(self, request: Request, started: float,
                         outcome: PhaseOutcome) -> None:
        invocation, instance = request.invocation, request.instance
        assert instance is not None
        request.done = True
        timeout = self.config.timeout
        invocation.instance = instance
        invocation.duration_ms = (outcome.ended - started) * 1000.0
        if outcome.peak_bytes is not None:
            invocation.memory_used_mb = math.ceil(outcome.peak_bytes / (1 << 20))
        invocation.handler_log = outcome.log
        instance.invocations.append(invocation)
        # (idle from now on; with concurrency_num > 1, from when its last request ended)
        instance.last_used_at = max(instance.last_used_at, self._elapsed())
        invocation.error = self._error_of(outcome, "handler_error", "handler_timeout", timeout)
        if invocation.error is None and outcome.unserializable is not None:
            type_name, message = outcome.unserializable
            invocation.error = self._error(
                "result_not_serializable", type_name,
                f"the handler's return value is not JSON-serialisable: {message}",
            )
        elif invocation.error is None:
            # What the caller decodes: the result went through JSON on the wire. (json's functions
            # are bound at import so that a test mocking json for user code doesn't break this.)
            try:
                text = _json_dumps(outcome.value)
                size = _body_size(outcome.value, text)
                if size > MAX_BODY_BYTES:
                    invocation.error = self._error(
                        "response_too_large", None,
                        f"the response body is {size} bytes, larger than the limit of "
                        f"{MAX_BODY_BYTES} bytes (6 MB)")
                else:
                    invocation.result = _json_loads(text)
                    invocation.ok = True
            except (TypeError, ValueError) as exc:
                invocation.error = self._error(
                    "result_not_serializable", type(exc).__name__,
                    f"the handler's return value is not JSON-serialisable: {exc}",
                )
        elif (outcome.status in ("timeout", "crashed", "memory_exceeded")
              and instance.state == "ready"):
            # [assumption] a timed-out instance is discarded (reference, section 2); one whose
            # process ended or passed its memory is gone. Other requests it was serving at the
            # same time (concurrency_num > 1) have ended by now: in-process they ran to their
            # end; in a process, they were cut off with it.
            self._stop(instance, "killed")

    def _error_of(self, outcome: PhaseOutcome, error_kind: ErrorKind,
                  timeout_kind: ErrorKind, timeout: int) -> FunctionError | None:
        if outcome.status == "ok":
            return None
        if outcome.status == "timeout":
            what = {"init_timeout": "runtime initialization",
                    "pre_stop_timeout": "pre-stop handler"}.get(timeout_kind,
                                                                "function invocation")
            return self._error(timeout_kind, None, f"{what} timed out after {timeout} s")
        if outcome.status == "crashed":
            return self._error("crashed", None, f"the runtime process exited ({outcome.detail})")
        if outcome.status == "memory_exceeded":
            return self._error("memory_exceeded", None,
                               f"runtime memory limit exceeded ({outcome.detail})")
        exc = outcome.exception
        assert exc is not None
        return self._error(error_kind, exc.type, exc.message, exc.stack_trace)

    def _error(self, kind: ErrorKind, type_name: str | None, message: str,
               stack_trace: tuple[str, ...] = ()) -> FunctionError:
        return FunctionError(kind, ERROR_CODES[kind], type_name, self.redact(message),
                             tuple(self.redact(line) for line in stack_trace))

    def _stop(self, instance: Instance, state: InstanceState) -> None:
        if instance.state == "ready" and state in ("recycled", "reclaimed"):
            hosted = self._hosted.get(instance)
            if hosted is not None and not hosted.alive():
                state = "killed"  # its process died while idle: the platform's is gone too
            else:
                self._run_pre_stop(instance)
        hosted = self._hosted.get(instance)
        if hosted is not None:
            hosted.stop()
        self._set_state(instance, state)

    def _set_state(self, instance: Instance, state: InstanceState) -> None:
        previous = instance.state if instance.state != state else None
        if state == "ready":
            self._ready.append(instance)
            instance.last_used_at = self._elapsed()
        elif previous == "ready":
            self._ready.remove(instance)
        instance.state = state
        self.journal.append(JournalEntry(self._elapsed(), "instance", (instance, state)))
        for listener in self._listeners:
            listener.instance_state_changed(instance, previous)

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _at(timeline: Timeline | None, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` reading the clock on ``timeline`` (what a request's records
        say is made on the calling thread, once the request's own thread has ended)."""
        if timeline is None:
            return function(*args)
        previous = enter_timeline(timeline)
        try:
            return function(*args)
        finally:
            enter_timeline(previous)

    def _context(self, request_id: str, timeout: int, deadline: float) -> ContextFields:
        """What user code's context says (the host makes it, on the instance's clock, with
        ``deadline``: the remaining time counts down to it)."""
        config = self.config
        return ContextFields(
            request_id=request_id,
            func_name=config.func_name or "function",
            timeout=timeout,
            memory_size=config.memory_size,
            user_data=dict(config.user_data),
            encrypted_user_data=dict(config.encrypted_user_data),
            package=config.package,
            project_id=config.project_id,
            version=self._version,
            access_key=config.access_key,
            secret_key=config.secret_key,
            security_token=config.security_token,
            token=config.token,
        )

    def _environment(self) -> dict[str, str]:
        """The variables FunctionGraph's runtime sets (reference, section 3), and user_data.

        [assumption] ``encrypted_user_data`` is readable through ``getUserData`` only, so that
        secrets stay out of ``os.environ`` (and out of anything that dumps it).
        """
        c = self.config
        env = {
            "RUNTIME_PROJECT_ID": c.project_id,
            "RUNTIME_FUNC_NAME": c.func_name or "function",
            "RUNTIME_FUNC_VERSION": self._version,
            "RUNTIME_PACKAGE": c.package,
            "RUNTIME_HANDLER": c.handler,
            "RUNTIME_TIMEOUT": str(c.timeout),
            "RUNTIME_USERDATA": json.dumps(dict(c.user_data)),
            "RUNTIME_CPU": str(cpu_millicores(c.memory_size)),
            "RUNTIME_MEMORY": str(c.memory_size),
            "RUNTIME_MAX_RESP_BODY_SIZE": "6291456",
            "RUNTIME_INITIALIZER_HANDLER": c.initializer_handler or "",
            "RUNTIME_INITIALIZER_TIMEOUT": str(c.initializer_timeout or ""),
            "RUNTIME_CODE_ROOT": str(c.code_root.resolve()),
            "RUNTIME_ROOT": str(Path(__file__).resolve().parent),
            "RUNTIME_LOG_DIR": tempfile.gettempdir(),
        }
        env.update(c.user_data)
        return env

    def _elapsed(self) -> float:
        return self._clock.now() - self._t0

    def _require_running(self, what: str) -> None:
        if self._state == "running":
            return
        raise RuntimeError(
            f"{what} needs a started emulator: use `with FunctionEmulator(config) as fn:` "
            f"or call start() first" if self._state == "new"
            else f"{what}: this FunctionEmulator is closed"
        )


def _body_size(value: Any, text: str) -> int:
    """The size of ``value`` as a JSON body: compact, in UTF-8. ``text`` (``json.dumps``'s
    default: ASCII escapes, spaced separators) is never smaller, so the exact size is worked
    out only when ``text`` is over the limit."""
    if len(text) <= MAX_BODY_BYTES:
        return len(text)
    return len(_json_dumps(value, ensure_ascii=False, separators=(",", ":"))
               .encode("utf-8", "surrogatepass"))


class _HeldFault:
    """An initializer fault held for one instance: handed over once its code has loaded (the
    host asks for it then), or given back to the queue if it never was."""

    __slots__ = ("rule", "used")

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.used = False

    def __call__(self) -> Injection:
        self.used = True
        return self.rule.injection()

