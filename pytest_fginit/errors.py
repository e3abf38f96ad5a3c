"""Errors: what user code's failures become (`FunctionError`) and what bad input raises.
[test process]

The kinds and codes are FunctionGraph v2's internal runtime codes (reference, section 4), reused
as stable, machine-readable identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

# The API (re-exported by `pytest_fginit`); other names here are the package's own.
__all__ = [
    "ERROR_CODES", "ErrorKind", "FunctionConfigError", "FunctionError", "InstanceSetupError",
]

ErrorKind = Literal[
    "load_error",
    "handler_error",
    "handler_timeout",
    "result_not_serializable",
    "init_failed",
    "init_timeout",
    "memory_exceeded",
    "crashed",
    "response_too_large",
    "request_too_large",
    "throttled",
    "pre_stop_failed",
    "pre_stop_timeout",
]

ERROR_CODES: Final[dict[str, int | str]] = {
    "load_error": 4001,
    "handler_error": 4002,
    "result_not_serializable": 4007,
    "handler_timeout": 4010,
    "init_failed": 4201,
    "init_timeout": 4211,
    "memory_exceeded": 4205,
    # [assumption] the reference names no code for a runtime process that exits: 4209 is ours.
    "crashed": 4209,
    "response_too_large": 4004,
    # [assumption] no codes are published for the pre-stop handler: ours, like 4201 and 4211.
    "pre_stop_failed": 4301,
    "pre_stop_timeout": 4311,
    # The platform's own refusals (no instance is involved) carry its API error codes.
    "request_too_large": "FSS.0413",
    "throttled": "FSS.0429",
}
PLATFORM_KINDS: Final = frozenset({"request_too_large", "throttled"})
"""Kinds the platform answers itself, with an API error (``error_code``/``error_msg``), before
any function code runs."""
MAX_BODY_BYTES: Final = 6291456
"""Synchronous request and response bodies: at most 6 MB each (reference, section 2)."""


@dataclass(frozen=True, repr=False)
class FunctionError:
    """A failure of user code, shaped like FunctionGraph's report of it.

    ``type`` is the class name of the user's exception, ``None`` where no exception was
    raised by user code (timeouts, a missing entry function).
    """

    kind: ErrorKind
    code: int | str
    type: str | None
    message: str
    stack_trace: tuple[str, ...] = ()

    @property
    def platform_message(self) -> str:
        """The sentence FunctionGraph's runtime puts in front of the user's message."""
        if self.kind == "init_failed":
            return f"Fail to run user init handler. err: {self.message}"
        if self.kind == "handler_error":
            return f"function invocation exception, error: {self.message}"
        return self.message

    @property
    def by_platform(self) -> bool:
        """Whether the platform refused the request itself (no function code ran)."""
        return self.kind in PLATFORM_KINDS

    def to_body(self) -> dict[str, Any]:
        """The error body a synchronous caller receives (reference, section 4)."""
        if self.by_platform:
            return {"error_code": self.code, "error_msg": self.message}
        return {
            "errorMessage": self.platform_message,
            "errorType": self.type or self.kind,
            "stackTrace": list(self.stack_trace),
        }

    def __str__(self) -> str:
        typed = f"{self.type}: " if self.type else ""
        return f"{self.kind} ({self.code}): {typed}{self.message}"

    def __repr__(self) -> str:
        return (
            f"FunctionError(kind={self.kind!r}, code={self.code}, type={self.type!r}, "
            f"message={self.message!r})"
        )


class FunctionConfigError(ValueError):
    """A function configuration that FunctionGraph would reject, or that the emulator cannot use.

    ``field`` names the offending key; the message says what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InstanceSetupError(RuntimeError):
    """The ``instance_setup`` function failed inside a new instance: a bug in the test's own
    scaffolding, raised to the test rather than recorded as the function's error."""
