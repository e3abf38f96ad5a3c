"""The plugin's own hooks (pluggy hookspecs), added in ``pytest_addhooks``, and the relay
that calls them from an emulator's notifications. [test process]

Implement them in a ``conftest.py`` or a plugin, like any pytest hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import FunctionEmulator
    from .records import Instance, InstanceState, Invocation

__all__: list[str] = []  # no API to import: pytest reads the hookspecs by name


@pytest.hookspec
def pytest_fginit_adjust_config(fields: dict[str, Any], item: pytest.Item) -> None:
    """Adjust a function's configuration before its emulator is built.

    ``fields`` holds the merged keys (ini, then markers from farthest to closest, paths already
    resolved); change it in place. The result is validated as a `FunctionConfig` afterwards.
    """


@pytest.hookspec
def pytest_fginit_instance_state_changed(
    instance: Instance, previous: InstanceState | None, emulator: FunctionEmulator
) -> None:
    """An emulated instance changed state (``previous`` is ``None`` for a new instance)."""


@pytest.hookspec
def pytest_fginit_invocation_finished(
    invocation: Invocation, emulator: FunctionEmulator
) -> None:
    """An invocation finished (succeeded or failed); ``invocation`` holds everything recorded."""


class HookRelay:
    """Passes the emulator's notifications on to the plugin's pluggy hooks."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook
        self.emulator: FunctionEmulator | None = None

    def instance_state_changed(self, instance: Instance, previous: InstanceState | None) -> None:
        self._hook.pytest_fginit_instance_state_changed(
            instance=instance, previous=previous, emulator=self.emulator
        )

    def invocation_finished(self, invocation: Invocation) -> None:
        self._hook.pytest_fginit_invocation_finished(invocation=invocation,
                                                     emulator=self.emulator)
