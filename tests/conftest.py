"""Shared helpers: write a function's code root from sources, build emulators on it."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import freezegun.api
import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator

WriteCode = Callable[..., Path]

# A function used by many tests: counts initializer and handler calls in module globals.
COUNTING_FUNCTION = """
import time
INIT_CALLS = 0
HANDLED = 0
STATE = {}

def init(context):
    global INIT_CALLS
    INIT_CALLS += 1
    STATE["initialized_at"] = time.time()
    STATE["db"] = context.getUserData("DB_URL")
    return "ignored"

def handler(event, context):
    global HANDLED
    HANDLED += 1
    return {"event": event, "handled": HANDLED, "init_calls": INIT_CALLS, "db": STATE.get("db")}
"""


def write_code(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def code(tmp_path: Path) -> WriteCode:
    """``code(index=..., **other_modules)`` writes a code root and returns its path."""

    def make(index: str = COUNTING_FUNCTION, **modules: str) -> Path:
        files = {"index.py": index, **{f"{name.replace('.', '/')}.py": src
                                       for name, src in modules.items()}}
        return write_code(tmp_path / "fn", files)

    return make


ISOLATIONS = ("inprocess", "process")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `emulate` runs in both isolation modes (the core contract holds in
    each), unless marked ``inprocess_only`` (it looks at what only in-process emulation has:
    ``Instance.module``, mocks set in the test process)."""
    if "emulate" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("inprocess_only")
        metafunc.parametrize("isolation", ISOLATIONS[:1] if only else ISOLATIONS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "inprocess_only(why): the test needs in-process emulation (run it once)"
    )


def _emulators(code: WriteCode, **defaults: Any) -> Iterator[Callable[..., FunctionEmulator]]:
    """``make(index=..., modules=..., **config)``: a started emulator (``defaults`` under
    ``config``); every one made is closed at the end, last opened first (like nested ``with``
    blocks)."""
    opened: list[FunctionEmulator] = []

    def make(index: str = COUNTING_FUNCTION, modules: dict[str, str] | None = None,
             **config: Any) -> FunctionEmulator:
        root = code(index, **(modules or {}))
        emulator = FunctionEmulator(FunctionConfig(code_root=root, **{**defaults, **config}))
        opened.append(emulator.start())
        return emulator

    yield make
    for emulator in reversed(opened):
        emulator.close()


@pytest.fixture
def emulate(code: WriteCode, isolation: str) -> Iterator[Callable[..., FunctionEmulator]]:
    """``emulate(index=..., modules=..., **config)``: a started emulator, closed after the test.
    It runs in the test's isolation mode (parametrised) unless ``isolation=`` says otherwise."""
    yield from _emulators(code, initializer_handler="index.init", isolation=isolation)


@pytest.fixture
def run(code: WriteCode) -> Iterator[Callable[..., FunctionEmulator]]:
    """``run(index, **config)``: a started process-isolated emulator, closed after the test."""
    yield from _emulators(code, isolation="process")


def _process_ends(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` ends within ``within`` real seconds (a hang guard), reaped or
    a zombie; real time even while an emulator's clock is the test's."""
    limit = freezegun.api.real_monotonic() + within
    while freezegun.api.real_monotonic() < limit:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):  # (a zombie: dead)
                    return True
        except OSError:
            return True
        time.sleep(0.05)  # (outside a phase: a real sleep)
    return False


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project holding the counting function in ``fn/``."""
    write_code(pytester.path / "fn", {"index.py": COUNTING_FUNCTION})
    return pytester


@pytest.fixture
def function_source(pytester: pytest.Pytester) -> Callable[[str], Path]:
    """``function_source(index)`` replaces the pytester project's ``fn/index.py``."""
    return lambda index: write_code(pytester.path / "fn", {"index.py": index})


@pytest.fixture
def process_ends() -> Callable[..., bool]:
    """``process_ends(pid, within=10.0)``: whether the process ends in time (a fixture, not
    an import: ``conftest`` names docs' conftest too when both folders are collected)."""
    return _process_ends


@pytest.fixture
def no_held_freeze() -> Iterator[None]:
    """No session-long freeze during the test: the plugin holds one from the first
    ``fg_function`` of the process on (examples/ and docs/ use it, and may run first); a test
    of what a closed emulator leaves behind (``time.time`` itself restored) needs none."""
    from pytest_fginit import _clock

    holds = 0
    while _clock.freeze_held():
        _clock.release_freeze()
        holds += 1
    yield
    for _ in range(holds):
        _clock.hold_freeze()
