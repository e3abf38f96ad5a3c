"""The contract between the control plane and a host: what an instance runs, the faults and
outcomes of its phases, and the host's interface. [test process, instance process]

Plain values only: they cross to an instance process (pickled) and back, so this module imports
nothing from either side (the context's fields are plain data too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..context import ContextFields

PhaseStatus = Literal["ok", "error", "timeout", "crashed", "memory_exceeded", "setup_error"]
"""``crashed``: the instance's process ended (exit, signal); ``memory_exceeded``: it passed
``memory_size``; ``setup_error``: the test's ``instance_setup`` function failed."""
@dataclass(frozen=True)
class InstanceSpec:
    """What an instance runs."""

    code_root: Path
    handler_module: str
    handler_function: str
    initializer_function: str | None = None
    handler_file: str | None = None
    """The handler module's source file when it is a top-level ``.py`` file (loads faster)."""
    instance_setup: str | None = None
    """``package.module:function`` to call inside the instance before its code loads."""
    pre_stop_function: str | None = None


@dataclass(frozen=True)
class Injection:
    """A fault to apply to one phase: wait ``delay_s`` first, then hang or raise instead of
    running user code."""

    delay_s: float = 0.0
    hang: bool = False
    exception: BaseException | None = None
    exit_code: int | None = None
    """End the instance's process with this exit code."""
    exhaust_memory: bool = False
    """Use memory until the instance passes ``memory_size``."""


@dataclass(frozen=True)
class UserException:
    """A user exception, as FunctionGraph reports one (``type`` is ``None`` for platform
    complaints such as a missing entry function)."""

    type: str | None
    message: str
    stack_trace: tuple[str, ...] = ()


@dataclass(slots=True)
class PhaseOutcome:
    """How a phase ended; ``ended`` is on the emulator's clock (the deadline for a timeout)."""

    status: PhaseStatus
    ended: float
    value: Any = None
    exception: UserException | None = None
    log: str = ""
    detail: str = ""
    """How a crash or memory overrun happened ("exit code 3", "signal 9 (SIGKILL)")."""
    exit_code: int | None = None
    """The exit code a crash asked for (``sys.exit``, ``os._exit``, an injected crash)."""
    unserializable: tuple[str, str] | None = None
    """Set by a host that already found the value not JSON-serialisable: (type, message)."""
    peak_bytes: int | None = None
    """The instance's peak memory so far, where the host measures it (process isolation)."""


@dataclass(slots=True)
class StartOutcome:
    """How bringing an instance up went; ``loaded`` tells a load error from an init failure."""

    phase: PhaseOutcome
    loaded: bool


class HostedInstance(Protocol):
    """One instance as a host runs it."""

    @property
    def module(self) -> ModuleType | None:
        """The handler's module, once loaded here (``None`` in another process)."""

    @property
    def pid(self) -> int | None:
        """The instance's own process (``None``: it runs in the test process)."""

    def start(self, fields: ContextFields, deadline: float,
              injection: Callable[[], Injection | None] | None,
              load: Injection | None = None) -> StartOutcome:
        """Import the handler's module, find the entry functions, run the initializer (if
        any) before ``deadline``. ``load`` is applied first, in place of the import if it
        raises; ``injection`` (``None``: no fault is queued) is asked for the initializer's
        fault only once the code has loaded."""

    def handle(self, event: Any, fields: ContextFields, deadline: float,
               injection: Injection | None) -> PhaseOutcome: ...

    def pre_stop(self, fields: ContextFields, deadline: float,
                 injection: Injection | None) -> PhaseOutcome:
        """Run the pre-stop handler (the instance is then stopped)."""

    def stop(self) -> None: ...

    def alive(self) -> bool:
        """Whether the instance can still serve (a process may have died while idle)."""


class InstanceHost(Protocol):
    def open(self, environment: Mapping[str, str]) -> None: ...
    def start_instance(self, spec: InstanceSpec) -> HostedInstance: ...
    serves_side_by_side: bool
    """Whether one instance can run several requests' handlers at the same time."""

    def abort(self) -> None:
        """Stop every phase running now, and every phase started until `resume` (called
        from another thread: the test was interrupted while requests ran side by side);
        each ends as a timeout or a crash."""

    def resume(self) -> None:
        """Run phases again (the interrupted send is over)."""
    def close(self) -> None: ...


class InstanceDied(BaseException):
    """Raised in a phase whose instance's process ended: emulated in-process (``os._exit``,
    ``sys.exit``, an injected crash or memory overrun), real in an instance process."""

    def __init__(self, status: Literal["crashed", "memory_exceeded"], detail: str,
                 exit_code: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.exit_code = exit_code
