"""``--fginit-lifecycle``: which lifecycle paths the session exercised, per function, and
``--fginit-require``: a gate on the ones it must (issue 15). [test process; xdist's controller]

Registered by the plugin (its ``pytest_plugins``). It costs nothing when off: the recorder is
registered only when the report, its JSON file or a requirement is asked for. Under
pytest-xdist each worker records its own tests and hands them to the controller
(``workeroutput``), which merges them, prints the table and applies the gate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import FunctionEmulator
    from .records import Instance, InstanceState, Invocation

__all__: list[str] = []  # no API: options and ini keys

_KEY = "fginit_lifecycle"
Seen = dict[str, dict[str, list[Any]]]
"""Function name -> path -> [times exercised, the first test that did]."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fginit")
    group.addoption("--fginit-lifecycle", action="store_true", default=None,
                    help="print which lifecycle paths each emulated function went through")
    group.addoption("--fginit-lifecycle-json", metavar="PATH", default=None,
                    help="write the lifecycle paths exercised, as JSON, to PATH")
    group.addoption("--fginit-require", metavar="PATH,...", default=None,
                    help="fail the session if one of these lifecycle paths (or "
                         "function:path) was never exercised")
    parser.addini("fginit_lifecycle", "print the lifecycle paths exercised (true/false)",
                  type="bool", default=False)
    parser.addini("fginit_lifecycle_json", "write the lifecycle paths exercised to this file",
                  default="")
    parser.addini("fginit_require", "lifecycle paths (or function:path) the session must "
                  "exercise, comma-separated", default="")


def pytest_configure(config: pytest.Config) -> None:
    show = config.getoption("fginit_lifecycle") or config.getini("fginit_lifecycle")
    json_path = config.getoption("fginit_lifecycle_json") or config.getini(
        "fginit_lifecycle_json") or None
    required = _required(config.getoption("fginit_require") or config.getini("fginit_require"))
    if show or json_path or required:
        config.pluginmanager.register(Recorder(bool(show), json_path, required),
                                      "fginit-lifecycle")


def _required(text: str) -> list[str]:
    """The required paths, checked: an unknown name is a usage error listing the known."""
    names = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if names:
        from ._lifecycle_paths import PATHS
    for name in names:
        path = name.rpartition(":")[2]
        if path not in PATHS:
            raise pytest.UsageError(f"--fginit-require: unknown lifecycle path {path!r}; "
                                    f"known paths: {', '.join(PATHS)}")
    return names


class _EmulatorState:
    """What the recorder follows of one emulator between its records."""

    __slots__ = ("deployed", "journal_read", "last_cold", "served")

    def __init__(self) -> None:
        self.journal_read = 0
        self.served = False
        self.deployed = False  # (since it last served: the next request is after an update)
        self.last_cold: tuple[float, str] | None = None


class Recorder:
    """Counts the paths each function went through, and when each was first exercised.
    (Its module imports the paths' module only when a recorder is made: the plugin loads this
    module in every session.)"""

    def __init__(self, show: bool, json_path: str | None, required: list[str]) -> None:
        from . import _lifecycle_paths

        self._paths = _lifecycle_paths
        self.show, self.json_path, self.required = show, json_path, required
        self.seen: Seen = {}
        self._test = "(outside a test)"
        self._emulators: dict[int, _EmulatorState] = {}

    def _mark(self, function: str, path: str) -> None:
        entry = self.seen.setdefault(function, {}).setdefault(path, [0, self._test])
        entry[0] += 1

    def _state(self, emulator: FunctionEmulator) -> _EmulatorState:
        return self._emulators.setdefault(id(emulator), _EmulatorState())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._test = item.nodeid
        self._emulators.clear()  # (emulators live within a test)

    def pytest_fginit_invocation_finished(self, invocation: Invocation,
                                          emulator: FunctionEmulator) -> None:
        name = str(emulator.config.func_name)
        state = self._state(emulator)
        self._read_journal(emulator, state)
        for path in self._paths.invocation_paths(invocation):
            self._mark(name, path)
        if invocation.instance is None:
            return
        if state.deployed:
            self._mark(name, "code_update_with_traffic")
        state.served, state.deployed = True, False
        if invocation.cold_start:
            cold = (invocation.started_at, invocation.instance.id)
            if state.last_cold is not None and state.last_cold[0] == cold[0] \
                    and state.last_cold[1] != cold[1]:
                self._mark(name, "concurrent_cold_starts")
            state.last_cold = cold

    def pytest_fginit_instance_state_changed(self, instance: Instance,
                                             previous: InstanceState | None,
                                             emulator: FunctionEmulator) -> None:
        for path in self._paths.state_paths(instance, instance.state):
            self._mark(str(emulator.config.func_name), path)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Any:
        try:
            return (yield)
        finally:  # (notes written after the last request: an async request's end)
            from .emulator import FunctionEmulator

            for value in getattr(item, "funcargs", {}).values():
                if isinstance(value, FunctionEmulator):
                    self._read_journal(value, self._state(value))

    def _read_journal(self, emulator: FunctionEmulator, state: _EmulatorState) -> None:
        journal, name = emulator.journal, str(emulator.config.func_name)
        for entry in journal[state.journal_read:]:
            if entry.what == "deploy" and state.served:
                state.deployed = True
            elif entry.what == "note":
                for path in self._paths.note_paths(entry.record):
                    self._mark(name, path)
        state.journal_read = len(journal)

    # --- the session's end: workers hand over, the controller merges, reports, gates ----

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        for function, paths in getattr(node, "workeroutput", {}).get(_KEY, {}).items():
            mine = self.seen.setdefault(function, {})
            for path, (count, first) in paths.items():
                entry = mine.setdefault(path, [0, first])
                entry[0] += count

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        worker_output = getattr(session.config, "workeroutput", None)
        if worker_output is not None:  # (an xdist worker: the controller reports)
            worker_output[_KEY] = self.seen
            return
        if self.json_path:
            Path(self.json_path).write_text(json.dumps(self.as_json(), indent=2) + "\n")
        if self.missing():
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def missing(self) -> list[str]:
        """The required paths no function (or not the named one) exercised."""
        def exercised(name: str) -> bool:
            function, _, path = name.rpartition(":")
            if function:
                return path in self.seen.get(function, {})
            return any(path in paths for paths in self.seen.values())
        return [name for name in self.required if not exercised(name)]

    def as_json(self) -> dict[str, Any]:
        paths_meaning = self._paths.PATHS
        return {
            "paths": paths_meaning,
            "functions": {f: {p: {"count": c, "first_test": t} for p, (c, t) in paths.items()}
                          for f, paths in sorted(self.seen.items())},
            "never_exercised": {f: [p for p in paths_meaning if p not in paths]
                                for f, paths in sorted(self.seen.items())},
            "required_missing": self.missing(),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if getattr(terminalreporter.config, "workeroutput", None) is not None:
            return
        if self.show:
            _print_table(terminalreporter, self.seen, list(self._paths.PATHS))
        missing = self.missing()
        if missing:
            terminalreporter.write_line(
                "fginit: required lifecycle paths never exercised: " + ", ".join(missing)
                + " (--fginit-require)", red=True)


def _print_table(reporter: Any, seen: Seen, known: list[str]) -> None:
    reporter.write_sep("-", "fginit lifecycle paths")
    if not seen:
        reporter.write_line("no emulated function was used")
    for function, paths in sorted(seen.items()):
        reporter.write_line(f"function {function!r}:")
        width = max(len(p) for p in known)
        for path in known:
            if path in paths:
                count, first = paths[path]
                reporter.write_line(f"  {path:<{width}}  {count:>6}  first: {first}")
        never = [p for p in known if p not in paths]
        if never:
            reporter.write_line(f"  never exercised: {', '.join(never)}")
