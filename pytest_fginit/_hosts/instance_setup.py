"""The test's ``instance_setup`` function: found by module name (``tests.fakes:install``) or
by file (``tests/fakes.py:install``, which works under every ``--import-mode``), checked when
an emulator starts, called in each new instance (`run_instance_setup`). [test process,
instance process]

What it raises is the test's scaffolding failing, never the function's: every exception,
``BaseException``s too (``sys.exit()``, a ``KeyboardInterrupt`` it raises itself), becomes
`SetupFailed`, which the emulator raises to the test as ``InstanceSetupError``. The caller
names what must pass through instead (a real Ctrl-C, the phase's deadline).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


class SetupFailed(BaseException):
    """The ``instance_setup`` function raised (carries its formatted traceback)."""


def run_instance_setup(target: str, passes: Callable[[BaseException], bool]) -> None:
    """Import and call ``package.module:function`` or ``path/file.py:function`` (the
    ``instance_setup`` key); what it raises becomes `SetupFailed`, unless ``passes`` says it
    is not the setup's own."""
    try:
        load_instance_setup(target)()
    except BaseException as exc:
        if passes(exc):
            raise
        raise SetupFailed(f"instance_setup {target!r} failed:\n"
                          + traceback.format_exc().rstrip()) from None


def split_target(target: str) -> tuple[str, str]:
    """``(module or file, function)`` of an ``instance_setup`` value."""
    where, _, function = target.rpartition(":")
    return where, function


def is_file_target(where: str) -> bool:
    return where.endswith(".py")


def load_instance_setup(target: str) -> Callable[[], Any]:
    """The function ``target`` names, its module imported (a file is loaded once per process,
    under a name of its own); ImportError, or AttributeError if it is not there."""
    where, name = split_target(target)
    module = _load_file(Path(where)) if is_file_target(where) else importlib.import_module(where)
    function = getattr(module, name, None)
    if not callable(function):
        raise AttributeError(f"{where} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def check_instance_setup(target: str, *, load: bool) -> str | None:
    """Why ``target`` cannot be used, in one line (``None`` if it can). With ``load`` the
    module is imported and the function looked up; without (an instance process will import
    it), only found."""
    where, _ = split_target(target)
    try:
        if load:
            load_instance_setup(target)
        elif is_file_target(where):
            if not Path(where).is_file():
                return f"{target!r}: no file {where}"
        elif importlib.util.find_spec(where) is None:
            raise ModuleNotFoundError(f"No module named {where!r}")
    except Exception as exc:
        hint = ("" if is_file_target(where) else
                "; name it by file (e.g. 'tests/fakes.py:install', relative to the test file "
                "or the ini file), which works under every --import-mode")
        return f"{target!r} cannot be used: {type(exc).__name__}: {exc}{hint}"
    return None


def _load_file(path: Path) -> Any:
    name = "_fginit_setup_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
