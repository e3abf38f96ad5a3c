"""What the emulator records for assertions: instances, initializer attempts, invocations.

Times (``*_at``) are seconds on the emulator's clock since the emulator started; durations are
milliseconds on the same clock, so a 300 s virtual timeout reads as 300000 ms.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ._redaction import Redactor, no_redaction
from .errors import FunctionError, InvocationError

if TYPE_CHECKING:
    from .host import HostedInstance
    from .response import ApiResponse

InstanceState = Literal["initializing", "ready", "failed", "killed", "recycled", "reclaimed"]
"""``initializing`` while code loads and the initializer runs; ``ready`` to serve requests;
``failed`` after its initialization failed (abandoned, R3); ``killed`` after a handler timeout,
crash or memory overrun (the platform discards the instance);
``recycled`` once stopped by the emulator (``recycle()``, end of test); ``reclaimed`` once
stopped for being idle longer than ``instance_idle_timeout``."""


@dataclass(eq=False)
class Instance:
    """One emulated function instance."""

    id: str
    created_at: float
    state: InstanceState = "initializing"
    initializer_calls: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    last_used_at: float = 0.0
    """When it last finished initializing or serving (idle since then)."""
    pre_stop: PreStop | None = None
    """Its pre-stop handler's run, once it was stopped (``None``: none ran)."""
    reserved: bool = False
    """A reserved instance (``reserved_instances``): initialized ahead of requests, served
    first, never reclaimed for being idle."""
    _hosted: HostedInstance | None = field(default=None, init=False, repr=False)
    _last_send: int = field(default=0, init=False, repr=False)
    """The emulator's count of sends when it was last given a request, or became ready."""

    @property
    def module(self) -> ModuleType | None:
        """The handler's module as loaded in this instance (``None`` if it failed to load).

        It stays usable after the instance stopped, for white-box assertions.
        """
        return self._hosted.module if self._hosted is not None else None

    def __repr__(self) -> str:
        return (
            f"Instance(id={self.id!r}, state={self.state!r}, "
            f"initializer_calls={self.initializer_calls}, invocations={len(self.invocations)}"
            + (", reserved=True)" if self.reserved else ")")
        )


@dataclass(eq=False)
class PreStop:
    """The run of an instance's pre-stop handler, as the instance was stopped."""

    ok: bool
    error: FunctionError | None
    duration_ms: float
    started_at: float
    log: str = ""

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else repr(self.error)
        return f"PreStop({outcome}, {self.duration_ms:.3f} ms)"


@dataclass(eq=False)
class InitAttempt:
    """One attempt to bring up an instance: load its code, then run the initializer (if any)."""

    instance: Instance
    ok: bool
    error: FunctionError | None
    duration_ms: float
    started_at: float
    log: str = ""

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else repr(self.error)
        return f"InitAttempt(instance={self.instance.id!r}, {outcome}, {self.duration_ms:.3f} ms)"


@dataclass(eq=False)
class Invocation:
    """One request, as the caller and the platform saw it."""

    request_id: str
    event: Any
    started_at: float
    ok: bool = False
    result: Any = None
    error: FunctionError | None = None
    instance: Instance | None = None
    cold_start: bool = False
    init_attempts: list[InitAttempt] = field(default_factory=list)
    duration_ms: float = 0.0
    """Time the handler ran (0 if no instance could be initialized)."""
    handler_log: str = field(default="", repr=False)
    memory_size: int = field(default=128, repr=False)
    """The function's ``memory_size`` (MB) when it ran: the billed memory."""
    memory_used_mb: int | None = field(default=None, repr=False)
    """The instance's peak memory (MB) in process isolation; ``None`` in-process (unmeasured)."""
    _redact: Redactor = field(default=no_redaction, repr=False)

    @property
    def init_duration_ms(self) -> float:
        """Time spent bringing up instances for this request (all attempts)."""
        return sum(a.duration_ms for a in self.init_attempts)

    @property
    def billed_duration_ms(self) -> int:
        """Handler plus initialization time, rounded up to the millisecond (R10)."""
        return math.ceil(round(self.duration_ms + self.init_duration_ms, 6))

    @property
    def billed_gb_s(self) -> float:
        """What this request is billed: memory (GB) times billed duration (s), initializer time
        included (R10)."""
        return self.memory_size / 1024 * self.billed_duration_ms / 1000

    @property
    def log(self) -> str:
        """What the function printed or logged while serving this request, attempts included."""
        return "".join(a.log for a in self.init_attempts) + self.handler_log

    def to_api_response(self) -> ApiResponse:
        """What FunctionGraph's synchronous invoke API would have answered (reference,
        section 4): status, headers and the ``v1`` body."""
        from .response import api_response

        return api_response(self)

    def raise_for_error(self) -> Invocation:
        """Raise `InvocationError` if this invocation failed; return it otherwise."""
        if self.error is not None:
            raise InvocationError(self)
        return self

    def __repr__(self) -> str:
        where = self.instance.id if self.instance else None
        outcome = (f"result={self._redact(repr(self.result))}" if self.ok
                   else f"error={self.error!r}")
        return (
            f"Invocation(request_id={self.request_id!r}, ok={self.ok}, {outcome}, "
            f"instance={where!r}, cold_start={self.cold_start}, "
            f"init_attempts={len(self.init_attempts)}, duration_ms={self.duration_ms:.3f})"
        )


@dataclass(frozen=True)
class Billing:
    """Sums over a function's requests (`FunctionEmulator.billing`): what they are billed, and
    what it took to serve them. Add two with ``+`` (the plugin's session summary does)."""

    invocations: int = 0
    instances: int = 0
    """Instances created (each one initialized, or tried to)."""
    cold_starts: int = 0
    init_failures: int = 0
    """Initialization attempts that failed, timeouts included."""
    init_timeouts: int = 0
    billed_duration_ms: int = 0
    gb_s: float = 0.0
    """Billed GB-seconds: memory (GB) times billed duration (s), initializer time included."""

    def __add__(self, other: Billing) -> Billing:
        return Billing(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def summary(self) -> str:
        """One line: what the platform would have done and billed."""
        return (f"{self.invocations} requests, {self.instances} instances created, "
                f"{self.cold_starts} cold starts, {self.init_failures} init failures "
                f"({self.init_timeouts} timeouts), billed {self.gb_s:.6f} GB-s")
