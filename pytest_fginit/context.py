"""The FunctionGraph Python ``context`` object that handlers and initializers receive.
[test process, instance process]

Method names are the runtime's own (reference, section 3), camelCase included.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Final, NamedTuple

from ._redaction import MASK, Redactor, no_redaction

# The API (re-exported by `pytest_fginit`); other names here are the package's own.
__all__ = ["Context", "ContextLogger"]

LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40}


def cpu_millicores(memory_size: int) -> int:
    """CPU share FunctionGraph gives a memory size, in millicores.

    [assumption] FunctionGraph publishes no formula; this one gives 300 at 128 MB and grows
    linearly with memory, matching the console's figures for the small sizes.
    """
    return max(300, round(memory_size / 128 * 100) + 200)


class ContextLogger:
    """The logger ``context.getLogger()`` returns.

    A line reads ``<UTC time> <request id> <LEVEL> <message>`` and is written to the current
    ``sys.stdout``: inside an emulated instance that stream feeds `Invocation.log` and pytest's
    captured output.
    """

    def __init__(self, request_id: str, now: Callable[[], float],
                 redact: Redactor = no_redaction) -> None:
        self._request_id = request_id
        self._now = now
        self._redact = redact
        self._level = LEVELS["INFO"]

    def setLevel(self, level: str | int) -> None:
        if isinstance(level, int):
            self._level = level
            return
        try:
            self._level = LEVELS[level.upper()]
        except KeyError:
            raise ValueError(
                f"logger level {level!r}: allowed: {', '.join(sorted(LEVELS))}"
            ) from None

    def debug(self, msg: object, *args: object) -> None:
        self._write("DEBUG", msg, args)

    def info(self, msg: object, *args: object) -> None:
        self._write("INFO", msg, args)

    def warn(self, msg: object, *args: object) -> None:
        self._write("WARN", msg, args)

    warning = warn

    def error(self, msg: object, *args: object) -> None:
        self._write("ERROR", msg, args)

    def _write(self, level: str, msg: object, args: tuple[object, ...]) -> None:
        if LEVELS[level] < self._level:
            return
        text = str(msg) % args if args else str(msg)
        stamp = datetime.fromtimestamp(self._now(), timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:-3]
        sys.stdout.write(self._redact(f"{stamp}Z {self._request_id} {level} {text}") + "\n")


_EMPTY: Mapping[str, str] = {}  # (never changed: a Context copies what it reads)


class ContextFields(NamedTuple):
    """What a context holds apart from its clock: plain, picklable data. The control plane
    hands it to a host, and a process host sends it to the instance process, which builds the
    `Context` on the instance's own clock. (A named tuple: one is made per phase, and a frozen
    dataclass's field-by-field construction cost a warm request about 2 us.)"""

    request_id: str
    func_name: str
    timeout: int
    memory_size: int
    user_data: Mapping[str, str] = _EMPTY
    encrypted_user_data: Mapping[str, str] = _EMPTY
    package: str = "default"
    project_id: str = "fginit-project"
    version: str = "latest"
    alias: str = ""
    access_key: str = ""
    secret_key: str = ""
    security_token: str = ""
    token: str = ""

    def __repr__(self) -> str:  # (no secret: encrypted_user_data, keys and tokens left out)
        return (f"ContextFields(request_id={self.request_id!r}, func_name={self.func_name!r}, "
                f"version={self.version!r})")


class Context:
    """A FunctionGraph ``context``. Build one with the `fg_context` fixture in unit tests."""

    def __init__(
        self,
        *,
        request_id: str,
        func_name: str,
        timeout: int,
        memory_size: int,
        remaining_ms: Callable[[], int],
        now: Callable[[], float],
        user_data: Mapping[str, str] | None = None,
        encrypted_user_data: Mapping[str, str] | None = None,
        package: str = "default",
        project_id: str = "fginit-project",
        version: str = "latest",
        alias: str = "",
        access_key: str = "",
        secret_key: str = "",
        security_token: str = "",
        token: str = "",
        redact: Redactor = no_redaction,
    ) -> None:
        fields = ContextFields(
            request_id=request_id, func_name=func_name, timeout=timeout,
            memory_size=memory_size, user_data=dict(user_data or {}),
            encrypted_user_data=dict(encrypted_user_data or {}), package=package,
            project_id=project_id, version=version, alias=alias, access_key=access_key,
            secret_key=secret_key, security_token=security_token, token=token,
        )
        self._take(fields, remaining_ms, now, redact)

    @classmethod
    def of(cls, fields: ContextFields, *, remaining_ms: Callable[[], int],
           now: Callable[[], float], redact: Redactor = no_redaction) -> Context:
        """The context of ``fields`` on a clock (``now``) and a deadline (``remaining_ms``)."""
        context = cls.__new__(cls)
        context._take(fields, remaining_ms, now, redact)
        return context

    def _take(self, fields: ContextFields, remaining_ms: Callable[[], int],
              now: Callable[[], float], redact: Redactor) -> None:
        # (the fields are read where asked for: a context is made per phase, most read little)
        self._fields = fields
        self._remaining_ms = remaining_ms
        self._now = now
        self._redact = redact
        self._merged: Mapping[str, str] | None = None  # (both user data maps, on first use)
        self._logger: ContextLogger | None = None  # made on first use: most calls never log

    @property
    def _user_data(self) -> Mapping[str, str]:
        merged = self._merged
        if merged is None:
            fields = self._fields
            merged = self._merged = {**fields.user_data, **fields.encrypted_user_data}
        return merged

    # --- the runtime's methods, by its names (camelCase) -----------------------------------

    def getRequestID(self) -> str:
        return self._fields.request_id

    def getRemainingTimeInMilliSeconds(self) -> int:
        """Time left before this phase's timeout, on the emulator's clock."""
        return self._remaining_ms()

    def getAccessKey(self) -> str:
        """Deprecated upstream; returns the temporary access key."""
        return self._fields.access_key

    def getSecretKey(self) -> str:
        """Deprecated upstream; returns the temporary secret key."""
        return self._fields.secret_key

    def getSecurityAccessKey(self) -> str:
        return self._fields.access_key

    def getSecuritySecretKey(self) -> str:
        return self._fields.secret_key

    def getSecurityToken(self) -> str:
        return self._fields.security_token

    def getToken(self) -> str:
        return self._fields.token

    def getUserData(self, key: str, default: Any = None) -> Any:
        """A ``user_data`` or ``encrypted_user_data`` entry (encrypted ones arrive decrypted)."""
        return self._user_data.get(key, default)

    def getFunctionName(self) -> str:
        return self._fields.func_name

    def getRunningTimeInSeconds(self) -> int:
        """The configured timeout (not elapsed time), as on the platform."""
        return self._fields.timeout

    def getVersion(self) -> str:
        return self._fields.version

    def getMemorySize(self) -> int:
        return self._fields.memory_size

    def getCPUNumber(self) -> int:
        return cpu_millicores(self._fields.memory_size)

    def getPackage(self) -> str:
        return self._fields.package

    def getProjectID(self) -> str:
        return self._fields.project_id

    def getAlias(self) -> str:
        return self._fields.alias

    def getLogger(self) -> ContextLogger:
        if self._logger is None:
            self._logger = ContextLogger(self._fields.request_id, self._now, self._redact)
        return self._logger

    def __repr__(self) -> str:
        return (
            f"Context(request_id={self._fields.request_id!r}, "
            f"func_name={self._fields.func_name!r}, timeout={self._fields.timeout}, "
            f"memory_size={self._fields.memory_size}, "
            f"user_data={sorted(self._user_data)!r}, credentials={MASK!r})"
        )
