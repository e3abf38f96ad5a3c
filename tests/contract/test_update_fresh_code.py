"""A code update runs the code on disk now, whatever Python's bytecode cache holds: a
``__pycache__`` file is taken as up to date when it records its source's size and modification
time in whole seconds, so a same-size edit within the same second used to run the old code
after ``update()``, in both isolation modes."""

from __future__ import annotations

import os
import py_compile
from importlib.util import cache_from_source
from pathlib import Path

import pytest

from pytest_fginit._platform.revision import forget_stale_bytecode

VERSION_1 = """
def init(context):
    pass
def handler(event, context):
    return "version 1"
"""
VERSION_2 = VERSION_1.replace("1", "2")  # (the same size: the cache cannot tell them apart)


def _compile(source: Path) -> Path:
    """Write ``source``'s bytecode where Python looks for it (also when the run does not write
    bytecode itself: PYTHONDONTWRITEBYTECODE only stops writing, not reading)."""
    cached = Path(cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(cached), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    return cached


def _rewrite_within_the_same_second(source: Path, text: str, *, same_ns: bool) -> None:
    before = os.stat(source)
    source.write_text(text)
    second = before.st_mtime_ns // 10**9 * 10**9
    later = before.st_mtime_ns if same_ns else second + (before.st_mtime_ns + 1) % 10**9
    os.utime(source, ns=(before.st_atime_ns, later))


def test_an_update_after_a_same_second_same_size_edit_runs_the_new_code(emulate):
    fn = emulate(index=VERSION_1)
    source = fn.config.code_root / "index.py"
    _compile(source)
    assert fn.invoke().result == "version 1"
    _rewrite_within_the_same_second(source, VERSION_2, same_ns=False)
    fn.update()
    assert fn.invoke().result == "version 2"


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_an_update_after_an_edit_that_keeps_the_modification_time_runs_the_new_code(
        code, isolation):
    from pytest_fginit import FunctionConfig, FunctionEmulator

    root = code(VERSION_1)
    source = root / "index.py"
    _compile(source)
    with FunctionEmulator(FunctionConfig(code_root=root, isolation=isolation)) as fn:
        assert fn.invoke().result == "version 1"
        _rewrite_within_the_same_second(source, VERSION_2, same_ns=True)
        fn.update()
        assert fn.invoke().result == "version 2"


def test_bytecode_compiled_well_after_its_source_changed_is_kept(tmp_path):
    """Only racy bytecode is deleted: a big code root's libraries stay compiled."""
    old, fresh = tmp_path / "lib.py", tmp_path / "index.py"
    old.write_text("X = 1\n")
    fresh.write_text("X = 2\n")
    long_ago = os.stat(old).st_mtime_ns - 3600 * 10**9
    os.utime(old, ns=(long_ago, long_ago))
    kept, racy = _compile(old), _compile(fresh)
    forget_stale_bytecode(tmp_path)
    assert kept.exists()
    assert not racy.exists()
