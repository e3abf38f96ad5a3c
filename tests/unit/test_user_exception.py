"""What a user exception records of its traceback (`phase.user_exception`): only the user's
frames, exactly as ``traceback`` formats them, whatever emulator frames lie between.

The emulator's frames are left out before the frames are read, so that a failed attempt
(an injected fault raises in the emulator's code only) reads no source lines; the text must
be what extracting every frame and then dropping the emulator's gave.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_fginit._hosts.inprocess import phase
from pytest_fginit._hosts.inprocess.phase import apply_injection, user_exception


def read_everything(exc: BaseException) -> tuple[str, ...]:
    """The traceback text as it was first made: every frame extracted, then filtered."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(phase._NOT_USER_CODE)]
    lines = "".join(traceback.format_list(frames)).rstrip("\n").split("\n")
    return tuple(line for line in lines if line)


@pytest.fixture
def user_module(tmp_path: Path) -> ModuleType:
    source = tmp_path / "user_code.py"
    source.write_text(textwrap.dedent("""
        def handler(event, emulator_code):
            return step(event, emulator_code)


        def step(event, emulator_code):
            total = (event["a"]
                     + emulator_code(event))
            return total
    """), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("fginit_test_user_code", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def caught(call: Any) -> BaseException:
    try:
        call()
    except BaseException as exc:  # (as run_phase catches it)
        return exc
    raise AssertionError("did not raise")


def emulator_code_that_fails(event: Any) -> int:
    return phase.exit_code_of(event)  # (AttributeError, raised in the emulator's module)


@pytest.mark.parametrize("limit", [None, 2])
def test_the_user_frames_are_what_every_frame_filtered_gave(user_module, monkeypatch, limit):
    if limit is not None:
        monkeypatch.setattr(sys, "tracebacklimit", limit, raising=False)
    exc = caught(lambda: user_module.handler({"a": 1}, emulator_code_that_fails))
    recorded = user_exception(exc)
    assert recorded.type == "AttributeError"
    assert recorded.stack_trace == read_everything(exc)
    if limit is None:
        text = "\n".join(recorded.stack_trace)
        assert user_module.__file__ in text
        assert "line 3, in handler" in text and "line 8, in step" in text
        assert "+ emulator_code(event))" in text  # (the user's source line, read)
        assert "^^^^" in text or sys.version_info < (3, 11)  # (where in it: 3.11's positions)
        assert phase.__file__ not in text


def test_a_fault_raised_in_the_emulators_code_records_none_of_its_frames(monkeypatch):
    class Injected:
        exception = ConnectionError("injected")
        delay_s, hang, exit_code, exhaust_memory = 0.0, False, None, False

    monkeypatch.setattr(phase, "current_phase", lambda: object())
    exc = caught(lambda: apply_injection(Injected()))  # type: ignore[arg-type]
    recorded = user_exception(exc)
    assert (recorded.type, recorded.message) == ("ConnectionError", "injected")
    assert recorded.stack_trace == read_everything(exc)
    text = "\n".join(recorded.stack_trace)
    assert "in caught" in text  # (this test's frames are the "user's" here)
    assert "apply_injection" not in text.replace("lambda: apply_injection", "")
    assert phase.__file__ not in text
