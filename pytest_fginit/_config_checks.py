"""The checks of configuration values, one per kind of rule, and the limits they enforce.
[test process]

Each check takes a key's name and a value, and returns the value in canonical form or raises
`FunctionConfigError` naming the key and what is allowed. `CHECKS` says which check a key
gets; `config.FunctionConfig` applies them, and the rules between keys, on construction.
"""

from __future__ import annotations

import json
import keyword
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from ._async_config import check_destination_config
from ._redaction import MASK
from .errors import FunctionConfigError

MEMORY_SIZES: Final = (
    128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 8192, 10240,
)


# Frames of this module are cut from pytest's tracebacks: with -l, a check's ``value`` (a
# secret, maybe) would be shown. The error's message names the field; pytest --full-trace
# still shows the frames.
__tracebackhide__ = True

PYTHON_RUNTIMES: Final = ("Python2.7", "Python3.6", "Python3.9", "Python3.10", "Python3.12")
DEFAULT_RUNTIME: Final = "Python3.10"
RUNTIME_CHECKS: Final = ("warn", "error", "off")
ENTRY_MAX_LENGTH: Final = 128
USER_DATA_MAX_ITEMS: Final = 20
USER_DATA_MAX_BYTES: Final = 4096

ISOLATIONS: Final = ("inprocess", "process")
Isolation = Literal["inprocess", "process"]
FUNC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")


def entry_file(entry: str) -> str:
    """The dotted module path of an entry's file: ``index`` for ``index.handler``, and
    ``src.index`` for both ``src/index.handler`` (the file's path in the zip, as the console
    asks for it) and ``src.index.handler``."""
    return entry.rpartition(".")[0].replace("/", ".")


def _check_path(name: str, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, Path)):
        raise FunctionConfigError(name, f"{value!r} is not a path")
    return Path(value)


def resolve_path(name: str, path: Path) -> Path:
    """``path`` made absolute, its links followed; `FunctionConfigError` naming the key when
    it cannot be (a NUL in it, a loop of links, a relative path in a deleted folder)."""
    if not path.is_absolute():
        path = working_folder(name, f"{str(path)!r} is relative to") / path
    try:
        return path.resolve()
    except ValueError:  # (embedded null byte)
        raise FunctionConfigError(
            name, f"{str(path)!r} holds a NUL character; allowed: a path") from None
    except (OSError, RuntimeError) as exc:  # (RuntimeError: a loop of links, before 3.13)
        raise FunctionConfigError(
            name, f"{str(path)!r} cannot be resolved ({exc}); allowed: a path whose "
                  "links lead somewhere") from None


def working_folder(name: str, why: str) -> Path:
    """The test process's working folder; if it was deleted (a temporary folder a test
    chdir'd into), `FunctionConfigError` naming ``name``, ``why`` it matters ("... is
    relative to") and the folder."""
    try:
        return Path(os.getcwd())
    except FileNotFoundError:
        raise FunctionConfigError(
            name, f"{why} the working folder {_deleted_cwd()}, which no longer exists (was it "
                  "a temporary folder?); chdir to an existing folder first") from None


def _deleted_cwd() -> str:
    """The deleted working folder's path, as far as the system still tells it."""
    try:
        link = os.readlink("/proc/self/cwd")  # (Linux: "/tmp/x (deleted)")
    except OSError:
        link = os.environ.get("PWD", "")
    link = link.removesuffix(" (deleted)")
    return repr(link) if link else "(its path is unknown)"


_EXAMPLE_ENTRY = {"handler": "handler", "initializer_handler": "init",
                  "pre_stop_handler": "stop"}


def _check_entry(name: str, value: Any) -> str | None:
    code = {"handler": "FSS.1003 Invalid function handler.",
            "initializer_handler": "FSS.1404 Invalid function initializer.",
            "pre_stop_handler": ""}[name]
    if value is None and name != "handler":
        return None
    if not isinstance(value, str):
        raise FunctionConfigError(name, f"{value!r} is not a string of the form file.function")
    file, _, function = value.rpartition(".")
    # [assumption] a folder in the file's path is a Python package name (the emulator imports
    # src/index.py as src.index, so that the file's own imports work as in the zip's root).
    parts = [*file.replace("/", ".").split("."), function] if file else [function]
    if (
        len(parts) < 2
        or len(value) > ENTRY_MAX_LENGTH
        or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
    ):
        raise FunctionConfigError(
            name,
            f"{value!r} is not of the form file.function or folder/file.function (at most "
            f"{ENTRY_MAX_LENGTH} characters; each name a Python identifier), e.g. "
            f"'index.{_EXAMPLE_ENTRY[name]}' or 'src/index.{_EXAMPLE_ENTRY[name]}'"
            + (f" [{code}]" if code else ""),
        )
    return value


def _int_in(low: int, high: int, unit: str, code: str = "", *,
            optional: bool = False) -> Callable[[str, Any], int | None]:
    def check(name: str, value: Any) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            suffix = f" [{code}]" if code else ""
            raise FunctionConfigError(
                name, f"{value!r} is out of range; allowed: a whole number from {low} to "
                      f"{high}{unit}{suffix}"
            )
        return value
    return check


def _check_memory(name: str, value: Any) -> int:
    if isinstance(value, bool) or value not in MEMORY_SIZES:
        raise FunctionConfigError(
            name, f"{value!r} is not a FunctionGraph memory size; allowed (MB): "
                  + ", ".join(map(str, MEMORY_SIZES))
        )
    return int(value)


def json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FunctionConfigError(name, f"is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise FunctionConfigError(name, "must be a JSON object of name/value strings")
    return value


def _check_user_data(name: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):  # the API sends these as JSON strings
        value = json_object(name, value)
    if not isinstance(value, Mapping):
        raise FunctionConfigError(name, "must be a dict of str to str")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            shown = MASK if name == "encrypted_user_data" else repr(item)
            raise FunctionConfigError(
                name, f"entry {key!r}: {shown} is not a string; values must be str"
            )
        _check_variable(name, key, item)
    if len(value) > USER_DATA_MAX_ITEMS:
        raise FunctionConfigError(name, f"{len(value)} entries; allowed: at most "
                                        f"{USER_DATA_MAX_ITEMS}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
    if size > USER_DATA_MAX_BYTES:
        raise FunctionConfigError(name, f"{size} bytes; allowed: at most {USER_DATA_MAX_BYTES}")
    return dict(value)


def _check_variable(name: str, key: str, item: str) -> None:
    """One entry of ``user_data`` (or its kin) is an environment variable of the instance:
    caught here rather than as the function's crash when the instance's environment is set.

    [assumption] FunctionGraph's console rule for variable names is not in the reference: the
    rule is the operating system's (a name neither empty nor holding ``=`` or NUL; a value
    without NUL), and both are UTF-8 text, as the API's JSON carries them.
    """
    problem = ("is empty" if not key else "holds '='" if "=" in key
               else "holds a NUL character" if "\0" in key else _not_utf8(key))
    if problem:
        raise FunctionConfigError(
            name, f"entry {key!r}: the name {problem}; allowed: a non-empty name without "
                  "'=' or NUL characters (it becomes an environment variable)")
    problem = "holds a NUL character" if "\0" in item else _not_utf8(item)
    if problem:
        shown = "the value" if name == "encrypted_user_data" else f"the value {item!r}"
        raise FunctionConfigError(
            name, f"entry {key!r}: {shown} {problem}; allowed: UTF-8 text without NUL "
                  "characters (it becomes an environment variable)")


def _not_utf8(text: str) -> str:
    try:
        text.encode()
    except UnicodeEncodeError:  # (a lone surrogate, e.g. "\\udcff" in JSON)
        return "is not valid UTF-8 text (it holds a lone surrogate)"
    return ""


def _check_func_name(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not FUNC_NAME.match(value)):
        raise FunctionConfigError(
            name, f"{value!r}: allowed: 1-60 letters, digits, '_' or '-', starting with a letter"
        )
    return value


def _check_runtime(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if value not in PYTHON_RUNTIMES:
        raise FunctionConfigError(
            name, f"{value!r} is not a Python runtime; allowed: " + ", ".join(PYTHON_RUNTIMES)
        )
    return str(value)


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FunctionConfigError(name, "must be a string")
    return value


def parse_bool(name: str, text: str) -> bool:
    """Read a yes/no option the way pytest users write them in ini files."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise FunctionConfigError(name, f"{text!r} is not one of true, false")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FunctionConfigError(name, f"{value!r} is not one of True, False")
    return value


def _check_real_time_limit(name: str, value: Any) -> float | None:
    if value is None:
        return None
    # (nan passes "<= 0": it would switch the limit off; inf is None spelt another way)
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value < math.inf):
        raise FunctionConfigError(
            name, f"{value!r}: allowed: None or a number of seconds > 0, finite (None: "
                  "no limit)")
    return float(value)


_WARNED_RUNTIMES: set[str] = set()
"""The runtimes already warned about in this process: once is enough for a whole suite."""


def check_runtime_matches(runtime: str, mode: str) -> None:
    """Warn (once per runtime and process), raise, or say nothing (``mode``) when ``runtime``
    is not the Python running this process: the emulator runs the code on this interpreter,
    whatever ``runtime`` says."""
    running = f"Python{sys.version_info.major}.{sys.version_info.minor}"
    if mode == "off" or runtime == running or (mode == "warn" and runtime in _WARNED_RUNTIMES):
        return
    message = (f"{runtime!r}, but this test runs the function's code on {running} "
               f"({sys.executable})")
    if runtime.startswith("Python2"):
        message += ": Python 2 code (print statements, old-style except) fails to load here"
    message += "; set runtime_check='off' to accept it, or 'error' to refuse it"
    if mode == "error":
        raise FunctionConfigError("runtime", message)
    _WARNED_RUNTIMES.add(runtime)
    warnings.warn(f"runtime: {message}", UserWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The stack level of the first frame outside this package: the warning points at the
    user's ``FunctionConfig(...)``, not at our internals (nor at the dataclass's generated
    ``__init__``, whose file is ``<string>``)."""
    package = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 1
    # (Under fg_function no test frame is on the stack: the warning then shows pytest's
    # fixture call, and pytest's summary names the test.)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
            (package, "<string>")):
        frame, level = frame.f_back, level + 1
    return level


def _check_runtime_check(name: str, value: Any) -> str:
    if value not in RUNTIME_CHECKS:
        raise FunctionConfigError(
            name, f"{value!r}: allowed: " + ", ".join(RUNTIME_CHECKS))
    return str(value)


def _check_isolation(name: str, value: Any) -> str:
    if value not in ISOLATIONS:
        raise FunctionConfigError(
            name, f"{value!r} is not an isolation mode; allowed: " + ", ".join(ISOLATIONS)
        )
    return str(value)


def _check_instance_setup(name: str, value: Any) -> str | None:
    if value is None:
        return None
    module, colon, function = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    by_file = module.endswith(".py")  # (a path: any folder names)
    if not (colon and function.isidentifier() and (
            by_file or all(part.isidentifier() for part in module.split(".")))):
        raise FunctionConfigError(
            name, f"{value!r} is not of the form package.module:function or "
                  "path/file.py:function, e.g. 'tests.fakes:install' or "
                  "'tests/fakes.py:install'"
        )
    return str(value)


def instance_setup_file(value: str | None) -> str | None:
    """The file part of an ``instance_setup`` given by file (``None`` for a module name)."""
    if value is None:
        return None
    where = value.rpartition(":")[0]
    return where if where.endswith(".py") else None


def _check_destinations(name: str, value: Any) -> dict[str, Any]:
    check_destination_config(name, value)  # (the emulator parses it again: it is small)
    return dict(json.loads(value) if isinstance(value, str) else value)


CHECKS: Final[dict[str, Callable[[str, Any], Any]]] = {
    "code_root": _check_path,
    "handler": _check_entry,
    "initializer_handler": _check_entry,
    "pre_stop_handler": _check_entry,
    "pre_stop_timeout": _int_in(1, 90, " (seconds)", optional=True),
    "instance_idle_timeout": _int_in(1, 86400, " (seconds)"),
    "concurrency_num": _int_in(1, 1000, " (requests per instance)"),
    "max_instance_num": _int_in(-1, 1000, " (-1: unlimited, 0: disabled)"),
    "reserved_instances": _int_in(0, 1000, " (instances)"),
    "initializer_timeout": _int_in(
        1, 300, " (seconds)", "FSS.1405 Invalid initialization timeout.", optional=True
    ),
    "timeout": _int_in(3, 900, " (seconds)", "FSS.1008 Invalid function timeout."),
    "memory_size": _check_memory,
    "user_data": _check_user_data,
    "encrypted_user_data": _check_user_data,
    "func_name": _check_func_name,
    "runtime": _check_runtime,
    "package": _check_str,
    "project_id": _check_str,
    "access_key": _check_str,
    "secret_key": _check_str,
    "security_token": _check_str,
    "token": _check_str,
    "init_retries": _int_in(0, 10, " (retries)"),
    "virtual_time": _check_bool,
    "real_time_limit": _check_real_time_limit,
    "isolation": _check_isolation,
    "runtime_check": _check_runtime_check,
    "instance_setup": _check_instance_setup,
    "max_async_event_age_in_seconds": _int_in(1, 86400, " (seconds)", "FSS.0400",
                                              optional=True),
    "max_async_retry_attempts": _int_in(0, 3, " (retries)", "FSS.0400", optional=True),
    "destination_config": _check_destinations,
    "inherit_env": _check_bool,
    "invocations_kept": _int_in(0, 10**9, " (invocations), or None to keep all", optional=True),
}


def normalize_field(name: str, value: Any) -> Any:
    """Check one key's value on its own; return it in canonical form."""
    check = CHECKS.get(name)
    return check(name, value) if check else value
