"""`FunctionEmulator`: the façade a test holds for one function. [test process]

It owns the emulator's life (start, close), the send lock and the public verbs, and keeps the
read-only views tests assert on. FunctionGraph's rules live behind it in the control plane
(`_platform`): which instance serves a request and when one is created, reclaimed or
throttled (`placement`), bringing instances up with retries and stopping them (`pool`), one
send from the events to the records (`dispatch`), what an outcome means to the caller
(`outcomes`), what new instances run (`revision`). How user code is loaded and run is the
host's business (`host.py`); what happened is kept as `records`.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from ._clock import Clock, RealClock, VirtualClock
from ._hosts import check_instance_setup, open_host
from ._platform.dispatch import Dispatcher
from ._platform.placement import next_reclaim_at
from ._platform.pool import EmulatorListener, InstancePool
from ._platform.revision import (
    check_version_name,
    environment,
    forget_stale_bytecode,
    revision_of,
)
from ._retention import Retention
from ._trigger_verbs import TriggerVerbs, function_urn_of, policy_of, room_of
from .config import FunctionConfig
from .errors import FunctionConfigError
from .faults import Faults
from .records import Billing, InitAttempt, Instance, Invocation, JournalEntry, Note

__all__ = ["EmulatorListener", "FunctionEmulator"]  # (EmulatorListener: pytest_fginit's API)


_LAST_TIME = datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp()
"""The latest the virtual clock may show: a day short of `datetime.max`, so that local times
of it exist too."""


class _Life(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class FunctionEmulator(TriggerVerbs):
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
        self.invocations: list[Invocation] = []
        """The invocations, in order: the latest ``invocations_kept`` (`billing` counts all)."""
        self.journal: list[JournalEntry] = []
        """Every event in time order (of the invocations, those `invocations` keeps)."""
        listeners = tuple(listeners)
        self._clock: Clock = VirtualClock() if config.virtual_time else RealClock()
        self._pool = InstancePool(self._clock, self.faults, self.journal, listeners,
                                  self.redact)
        self._dispatcher = Dispatcher(self._pool, self._clock, self.faults, self.invocations,
                                      self.journal, listeners, self.redact)
        self._retention = Retention(self.invocations, self.journal,
                                    self._pool.reserved_init_attempts)
        self._version = "latest"
        self._reserved_due = False  # (start(defer_reserved=True) left them for first use)
        self._new_async_queue(policy_of(config), function_urn=function_urn_of(
                                  config.project_id, config.package, config.func_name or "",
                                  self._version),
                              room=lambda: room_of(self.config.max_instance_num,
                                                   self.config.concurrency_num),
                              epoch_of=lambda elapsed: self._pool.t0 + elapsed)
        self._configure(config)
        self._state = _Life.NEW
        self._sending = threading.Lock()  # (held while a send runs: one at a time)

    def _configure(self, config: FunctionConfig) -> None:
        """Take ``config`` on: what instances created from now on run, and how."""
        self.config = config
        # (queued requests keep their place; the test's async_assumptions() hold)
        self._async_queue.policy = replace(policy_of(config), **self._async_assumed)
        revision = revision_of(config, self._version)
        self._redact = revision.redact
        self.faults.initializer.available = config.initializer_handler is not None
        self.faults.pre_stop.available = config.pre_stop_handler is not None
        self._pool.deploy(revision, open_host(
            config.isolation, self._clock, real_time_limit=config.real_time_limit,
            redact=revision.redact, memory_size=config.memory_size,
            inherit_env=config.inherit_env, secrets=config.secrets))

    # --- life ----------------------------------------------------------------------------

    def start(self, *, defer_reserved: bool = False) -> FunctionEmulator:
        """Start the clock and the host; bring up the reserved instances (``reserved_instances``)
        now, or with ``defer_reserved`` at first use (any verb, or reading `instances`), or
        when `bring_up_reserved` is called: the ``fg_function`` fixture defers them until
        the test's fixtures are all set up, so that every fixture's mocks reach them."""
        if self._state is _Life.NEW:
            _check_setup(self.config)
            self._clock.start()
            self._pool.t0 = self._clock.now()
            try:
                self._pool.host.open(environment(self._pool.revision))
            except BaseException:
                self._clock.stop()  # leave no freeze behind
                raise
            self._state = _Life.RUNNING
            self._reserved_due = True
            if not defer_reserved:
                try:
                    self.bring_up_reserved()
                except BaseException:
                    self.close()
                    raise
        elif self._state is _Life.CLOSED:
            raise RuntimeError("this FunctionEmulator is closed; create a new one")
        return self

    def bring_up_reserved(self) -> None:
        """Bring up the reserved instances that ``start(defer_reserved=True)`` left for later
        (nothing if they are up, or the function has none). What fails is raised here, as
        from `invoke`; the attempts are in `reserved_init_attempts`."""
        if self._reserved_due and self._state is _Life.RUNNING:
            self._reserved_due = False  # (once: a failed bring-up is recorded, not retried)
            self._dispatcher.top_up_reserved()

    def close(self) -> None:
        """Stop every instance, restore the process (clock, environment, ``time.sleep``)."""
        if self._state is not _Life.RUNNING:
            self._state = _Life.CLOSED
            return
        try:
            self._pool.stop_all()
        finally:
            self._state = _Life.CLOSED
            try:
                self._pool.host.close()
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
            return self._dispatcher.send(what, events, ids)
        finally:
            # (the oldest let go, counted first: memory stays bounded however long the test)
            self._retention.after_send(self.config.invocations_kept)
            self._sending.release()

    def advance(self, seconds: float) -> None:
        """Move the clock user code sees forward by ``seconds`` (virtual time only)."""
        self._require_running("advance()")
        number = not isinstance(seconds, bool) and isinstance(seconds, (int, float))
        if number and self._clock.virtual:
            most = _LAST_TIME - self._clock.now()
            ok = 0 <= seconds <= most  # (False for nan)
        else:
            most, ok = math.inf, number and 0 <= seconds < math.inf
        if not ok:
            allowed = ("a finite number >= 0" if most == math.inf else
                       f"a number from 0 to {most:.0f} (the clock cannot pass "
                       "9999-12-30, near the end of Python's dates)")
            raise ValueError(f"advance() moves the clock forward only: seconds must be "
                             f"{allowed}, not {seconds!r}")
        if not self._clock.virtual:
            raise RuntimeError("advance() needs virtual_time=True; this function runs on "
                               "real time")
        pool = self._pool
        self._pass_to(pool.elapsed() + seconds)
        self.journal.append(JournalEntry(pool.elapsed(), "advance", seconds))

    def _pass_to(self, target: float) -> None:
        """Move the clock to ``target`` (elapsed seconds): each instance is reclaimed at its
        idle deadline on the way, and each queued asynchronous request runs when it is due."""
        pool = self._pool
        while True:
            reclaim = next_reclaim_at(pool.ready, self.config.instance_idle_timeout)
            due = self._async_due()
            if due is not None and due <= target and (reclaim is None or due <= reclaim):
                self._clock.pass_time(max(0.0, due - pool.elapsed()))
                self._run_due_async()
            elif reclaim is not None and reclaim < target:
                self._clock.pass_time(max(0.0, reclaim - pool.elapsed()) + 1e-6)
                pool.reclaim_idle()
            else:
                break
        self._clock.pass_time(max(0.0, target - pool.elapsed()))

    def _elapsed_now(self) -> float:
        return self._pool.elapsed()

    def _journal_note(self, kind: str, text: str) -> None:
        self.journal.append(JournalEntry(self._pool.elapsed(), "note", Note(kind, text)))

    def recycle(self) -> None:
        """Stop every live instance: the next request is a cold start (unless the function
        has ``reserved_instances``: new ones are brought up at once, as the platform does)."""
        self._require_running("recycle()")
        self._pool.stop_ready()
        self._dispatcher.top_up_reserved()

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
        __tracebackhide__ = True  # (``fields`` may hold new secrets: pytest -l would show them)
        try:
            config = self.config.replace(**fields)  # (checked before anything stops)
        except FunctionConfigError as exc:  # raised from here: the frames below hold them too
            raise exc.with_traceback(None) from None
        self._redeploy(config, f"updated ({', '.join(sorted(fields)) or 'same configuration'})")
        return config

    @property
    def version(self) -> str:
        """The version new instances run: ``latest``, or the one `publish_version` published
        last."""
        return self._version

    def publish_version(self, version: str) -> None:
        """Publish the current code and configuration as ``version``: requests from now on
        run on new instances of it, whose context says ``getVersion() == version``."""
        self._require_running("publish_version()")
        self._version = check_version_name(version)
        # (the instances it stops already say the new version in their pre-stop context, as
        # they did before the control plane was split out)
        self._pool.revision = replace(self._pool.revision, version=version)
        self._redeploy(self.config, f"version {version} published")

    def _redeploy(self, config: FunctionConfig, what: str) -> None:
        _check_setup(config)  # (before anything stops)
        forget_stale_bytecode(config.code_root)  # (new instances run the code on disk now)
        self._pool.stop_ready()
        old_host = self._pool.host  # (the environment of instances changes with the configuration)
        self._configure(config)
        try:
            self._pool.host.open(environment(self._pool.revision))
        finally:
            # Closed once the new one is open: what the function changed in the process
            # (working folder, signals, imports...) is given back when the emulator closes,
            # not in the middle of the test.
            old_host.close()
        self.journal.append(JournalEntry(self._pool.elapsed(), "deploy", what))
        self._dispatcher.top_up_reserved()

    # --- what a test reads ---------------------------------------------------------------

    @property
    def billing(self) -> Billing:
        """What this function's requests so far are billed, and what it took to serve them:
        every request, also those `invocations` no longer keeps (each counted once, never
        summed again: a read costs the same after 10^5 requests as after one)."""
        return self._retention.billing(len(self._pool.instances), self._pool.reserved_billed)

    @property
    def now(self) -> float:
        """Seconds since the epoch on the emulator's clock."""
        return self._clock.now()

    @property
    def instances(self) -> list[Instance]:
        """Every instance created, in creation order (reserved ones included: reading this
        brings them up if `start` deferred them)."""
        self.bring_up_reserved()
        return self._pool.instances

    @property
    def reserved_init_attempts(self) -> list[InitAttempt]:
        """The attempts to bring up reserved instances (``reserved_instances``): no request
        waited for them."""
        self.bring_up_reserved()
        return self._pool.reserved_init_attempts

    @property
    def elapsed(self) -> float:
        """Seconds on the emulator's clock since it started."""
        return self._pool.elapsed()

    def redact(self, text: str) -> str:
        """``text`` with every secret of this function's configuration masked."""
        return self._redact(text)

    def __repr__(self) -> str:
        instances = self._pool.instances
        live = sum(1 for i in instances if i.state == "ready")
        return (f"<FunctionEmulator {self.config.func_name!r} {self._state.value}: "
                f"{len(instances)} instances ({live} ready), "
                f"{self.billing.invocations} invocations>")

    def _require_running(self, what: str) -> None:
        if self._state is _Life.RUNNING:
            if self._reserved_due:  # (a verb is a first use; checked inline: every invoke)
                self.bring_up_reserved()
            return
        raise RuntimeError(
            f"{what} needs a started emulator: use `with FunctionEmulator(config) as fn:` "
            f"or call start() first" if self._state is _Life.NEW
            else f"{what}: this FunctionEmulator is closed"
        )


def _check_setup(config: FunctionConfig) -> None:
    """A short `FunctionConfigError` now, rather than a traceback at every new instance, when
    ``instance_setup`` cannot be used (in-process it is imported here; an instance process
    imports it itself, so it is only found)."""
    if config.instance_setup is not None:
        problem = check_instance_setup(config.instance_setup,
                                       load=config.isolation == "inprocess")
        if problem is not None:
            raise FunctionConfigError("instance_setup", problem)
