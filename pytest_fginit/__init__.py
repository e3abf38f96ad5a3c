"""pytest-fginit: test Huawei Cloud FunctionGraph initializers and handlers locally.
[every process: the fork server and instance processes import it as the parent of _hosts]

The public API, re-exported here. Names are resolved lazily so that the pytest plugin, which
every pytest run loads, imports nothing heavy until a test uses it. ``dir()`` is left to the
default on purpose: tools that scan every loaded module's names (freezegun's ``start()`` does,
at every freeze) must not import the control plane through it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import events
    from .async_records import AsyncInvocation, AsyncStatus, Delivery
    from .config import FunctionConfig
    from .context import Context, ContextLogger
    from .emulator import EmulatorListener, FunctionEmulator
    from .errors import (
        ERROR_CODES,
        ErrorKind,
        FunctionConfigError,
        FunctionError,
        InstanceSetupError,
    )
    from .faults import FaultRule, Faults, PhaseFaults
    from .records import (
        ApiResponse,
        Billing,
        HttpResponse,
        InitAttempt,
        Instance,
        InstanceState,
        Invocation,
        InvocationError,
        JournalEntry,
        Note,
        PreStop,
    )
    from .schedule import Schedule, Step

__version__ = "0.1.0"

_EXPORTS = {
    "FunctionConfig": "config",
    "Context": "context",
    "ContextLogger": "context",
    "EmulatorListener": "emulator",
    "FunctionEmulator": "emulator",
    "ERROR_CODES": "errors",
    "ErrorKind": "errors",
    "FunctionConfigError": "errors",
    "FunctionError": "errors",
    "InstanceSetupError": "errors",
    "Faults": "faults",
    "FaultRule": "faults",
    "PhaseFaults": "faults",
    "Billing": "records",
    "InitAttempt": "records",
    "Instance": "records",
    "InstanceState": "records",
    "Invocation": "records",
    "PreStop": "records",
    "JournalEntry": "records",
    "InvocationError": "records",
    "ApiResponse": "records",
    "HttpResponse": "records",
    "AsyncInvocation": "async_records",
    "AsyncStatus": "async_records",
    "Delivery": "async_records",
    "Note": "records",
    "Schedule": "schedule",
    "Step": "schedule",
}
_MODULES = frozenset({"events", "strategies"})
"""Public modules, reached as attributes too (``pytest_fginit.events.obs(...)``)."""

__all__ = [  # noqa: RUF022 - grouped by module, like _EXPORTS
    "__version__",
    "FunctionConfig",
    "Context",
    "ContextLogger",
    "EmulatorListener",
    "FunctionEmulator",
    "ERROR_CODES",
    "ErrorKind",
    "FunctionConfigError",
    "FunctionError",
    "InstanceSetupError",
    "Faults",
    "FaultRule",
    "PhaseFaults",
    "Billing",
    "InitAttempt",
    "Instance",
    "InstanceState",
    "Invocation",
    "PreStop",
    "JournalEntry",
    "InvocationError",
    "ApiResponse",
    "HttpResponse",
    "AsyncInvocation",
    "AsyncStatus",
    "Delivery",
    "Note",
    "Schedule",
    "Step",
    "events",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)  # (it sets the attribute itself)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_fginit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
