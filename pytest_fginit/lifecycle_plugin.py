"""``--fginit-lifecycle``: which lifecycle paths the session exercised, per function, and
``--fginit-require``: a gate on the ones it must (issue 15). [test process; xdist's controller]

Registered by the plugin (its ``pytest_plugins``). It costs nothing when off: the recorder is
registered only when the report, its JSON file or a requirement is asked for. Under
pytest-xdist each worker records its own tests and hands them to the controller
(``workeroutput``), which merges them, prints the table and applies the gate.
"""

from __future__ import annotations

import json
import os
import weakref
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

    __slots__ = ("deployed", "in_test", "journal_read", "last_cold", "served")

    def __init__(self) -> None:
        self.in_test = False  # (it recorded something in the test running now)
        self.journal_read = 0
        self.served = False
        self.deployed = False  # (since it last served: the next request is after an update)
        self.last_cold: tuple[float, str] | None = None


class Recorder:
    """Counts the paths each function went through, and when each was first exercised.
    (Its module imports the paths' module only when a recorder is made: the plugin loads this
    module in every session.)

    What it does per test is only what the test's emulators recorded: each finished request
    and change of state is classified as it comes, the journal read from where it was left,
    and a test whose emulators recorded nothing costs one check at its end. The test that
    first took a path is named when one is (from ``PYTEST_CURRENT_TEST``, which pytest sets
    for every test anyway), not followed at every test's start."""

    def __init__(self, show: bool, json_path: str | None, required: list[str]) -> None:
        from . import _lifecycle_paths

        self._paths = _lifecycle_paths
        self.show, self.json_path, self.required = show, json_path, required
        self.seen: Seen = {}
        self._emulators: weakref.WeakKeyDictionary[FunctionEmulator, _EmulatorState] = (
            weakref.WeakKeyDictionary())  # (an emulator's state lives as long as it does)
        self._touched: list[FunctionEmulator] = []  # (recorded something in this test)

    def _mark(self, function: str, path: str, test: str | None = None) -> None:
        paths = self.seen.get(function)
        if paths is None:
            paths = self.seen[function] = {}
        entry = paths.get(path)
        if entry is None:
            paths[path] = [1, test or _current_test()]
        else:
            entry[0] += 1

    def _state(self, emulator: FunctionEmulator) -> _EmulatorState:
        state = self._emulators.get(emulator)
        if state is None:
            state = self._emulators[emulator] = _EmulatorState()
        if not state.in_test:
            state.in_test = True
            self._touched.append(emulator)
        return state

    def pytest_fginit_invocation_finished(self, invocation: Invocation,
                                          emulator: FunctionEmulator) -> None:
        name = str(emulator.config.func_name)
        state = self._state(emulator)
        if len(emulator.journal) != state.journal_read:
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
        state = instance.state
        if state == "reclaimed" or (state == "recycled" and instance.pre_stop is not None):
            for path in self._paths.state_paths(instance, state):
                self._mark(str(emulator.config.func_name), path)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """After the test's teardown (its emulators closed): the notes its emulators wrote
        after their last request (an async request's end, an APIG answer's check)."""
        if self._touched:
            touched, self._touched = self._touched, []
            for emulator in touched:
                state = self._emulators.get(emulator)
                if state is not None:
                    state.in_test = False
                    if len(emulator.journal) != state.journal_read:
                        self._read_journal(emulator, state, nodeid)

    def _read_journal(self, emulator: FunctionEmulator, state: _EmulatorState,
                      test: str | None = None) -> None:
        journal, name = emulator.journal, str(emulator.config.func_name)
        for entry in journal[state.journal_read:]:
            if entry.what == "deploy" and state.served:
                state.deployed = True
            elif entry.what == "note":
                for path in self._paths.note_paths(entry.record):
                    self._mark(name, path, test)
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


def _current_test() -> str:
    """The test running now: pytest names it, and the phase, in ``PYTEST_CURRENT_TEST``."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    return current.rpartition(" (")[0] if current else "(outside a test)"
