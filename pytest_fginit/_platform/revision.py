"""What new instances run: a configuration and a version, as the host and user code see them.
[test process]

`Revision` is what `update()` and `publish_version()` replace: the code to load
(`InstanceSpec`), the ``RUNTIME_*`` environment (`environment`) and the fields of the context
each phase receives (`context_for`). Instances already running keep what they were started
with; they are stopped on a redeploy.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from importlib.util import cache_from_source
from pathlib import Path

from .._config_checks import working_folder
from .._hosts.protocol import InstanceSpec
from .._redaction import Redactor, redactor
from ..config import FunctionConfig
from ..context import ContextFields, cpu_millicores
from ..errors import FunctionConfigError

_VERSION = re.compile(r"^(?!latest$)[A-Za-z0-9][A-Za-z0-9._-]{0,41}$")
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # (RUNTIME_ROOT: the package's folder)


@dataclass(frozen=True, eq=False)
class Revision:
    """A configuration and the version it is published as (``latest`` until one is)."""

    config: FunctionConfig
    version: str
    spec: InstanceSpec
    redact: Redactor
    """Masks every secret of ``config``."""


def revision_of(config: FunctionConfig, version: str = "latest") -> Revision:
    handler_path = config.handler_path  # (looks at the file system: once)
    spec = InstanceSpec(
        code_root=config.code_root,
        handler_module=config.handler_module,
        handler_function=config.handler_function,
        initializer_function=config.initializer_function,
        handler_file=(str(handler_path) if "." not in config.handler_module
                      and handler_path and handler_path.suffix == ".py" else None),
        instance_setup=config.instance_setup,
        pre_stop_function=config.pre_stop_function,
    )
    return Revision(config, version, spec, redactor(config.secrets))


def check_working_folder(config: FunctionConfig) -> None:
    """Process isolation: an instance process starts in the test process's working folder,
    read as it starts; a deleted one is named here, before the start, rather than as a bare
    `FileNotFoundError` from the host."""
    if config.isolation == "process":
        working_folder("isolation", "process: each instance process starts in")


_RACY_S = 2
"""A bytecode file written less than this long after its source's last change may hold an
older text of it (see `forget_stale_bytecode`)."""


def forget_stale_bytecode(code_root: Path) -> None:
    """Delete the ``__pycache__`` files of ``code_root`` that may hold old code: at a code
    update, so that the new instances (both isolation modes) run what is on disk now.

    Python takes a bytecode file as up to date when it records its source's size and its
    modification time *in whole seconds*: a same-size edit within the second the file was
    compiled in goes unseen. A bytecode file written well after its source's last change
    (``_RACY_S``) was compiled from the source as it is and is kept, so a big code root's
    libraries are not compiled again at every update; only the racy ones are deleted, and
    compiled again on their next load. (As git treats its "racily clean" index entries.)
    """
    for folder, subfolders, files in os.walk(code_root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        for file in files:
            if file.endswith(".py"):
                _forget_if_racy(os.path.join(folder, file))


def _forget_if_racy(source: str) -> None:
    try:
        changed = os.stat(source).st_mtime
    except OSError:
        return
    for cached in _bytecode_files(source):
        try:
            if os.stat(cached).st_mtime < int(changed) + _RACY_S:
                os.unlink(cached)
        except OSError:  # (none there, or not ours to delete: Python then recompiles)
            pass


def _bytecode_files(source: str) -> set[str]:
    """Where Python may keep ``source``'s bytecode: beside it and under
    ``sys.pycache_prefix`` (an instance process may have either), at each optimisation."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return set()
    folder, name = os.path.split(source)
    stem = name[:-3]
    found = {os.path.join(folder, "__pycache__", f"{stem}.{tag}{opt}.pyc")
             for opt in ("", ".opt-1", ".opt-2")}
    if sys.pycache_prefix:
        found |= {cache_from_source(source, optimization=opt) for opt in ("", 1, 2)}
    return found


def check_version_name(version: object) -> str:
    """``version`` if FunctionGraph accepts it as a version name; else `FunctionConfigError`."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise FunctionConfigError(
            "version", f"{version!r}: allowed: 1-42 letters, digits, '.', '-' or '_', "
                       "starting with a letter or digit, and not 'latest'")
    return version


def environment(revision: Revision) -> dict[str, str]:
    """The variables FunctionGraph's runtime sets (reference, section 3), and user_data.

    [assumption] ``encrypted_user_data`` is readable through ``getUserData`` only, so that
    secrets stay out of ``os.environ`` (and out of anything that dumps it).
    """
    c = revision.config
    env = {
        "RUNTIME_PROJECT_ID": c.project_id,
        "RUNTIME_FUNC_NAME": c.func_name or "function",
        "RUNTIME_FUNC_VERSION": revision.version,
        "RUNTIME_PACKAGE": c.package,
        "RUNTIME_HANDLER": c.handler,
        "RUNTIME_TIMEOUT": str(c.timeout),
        "RUNTIME_USERDATA": json.dumps(dict(c.user_data)),
        "RUNTIME_CPU": str(cpu_millicores(c.memory_size)),
        "RUNTIME_MEMORY": str(c.memory_size),
        "RUNTIME_MAX_RESP_BODY_SIZE": "6291456",
        "RUNTIME_INITIALIZER_HANDLER": c.initializer_handler or "",
        "RUNTIME_INITIALIZER_TIMEOUT": str(c.initializer_timeout or ""),
        "RUNTIME_CODE_ROOT": _resolved(c.code_root),
        "RUNTIME_ROOT": str(_PACKAGE_ROOT),
        "RUNTIME_LOG_DIR": tempfile.gettempdir(),
    }
    env.update(c.user_data)
    return env


def _resolved(code_root: Path) -> str:
    """``code_root`` resolved (a walk of the file system at every component), once per folder
    for a working folder: the same function's emulators, test after test, reuse it."""
    key = (code_root, None if code_root.is_absolute() else os.getcwd())
    found = _RESOLVED.get(key)
    if found is None:
        if len(_RESOLVED) >= 64:  # (a suite has a few code roots)
            _RESOLVED.clear()
        found = _RESOLVED[key] = str(code_root.resolve())
    return found


_RESOLVED: dict[tuple[Path, str | None], str] = {}


def context_for(revision: Revision, request_id: str, timeout: int) -> ContextFields:
    """What the context of one phase (initializer, handler, pre-stop) says: the only place
    its fields are made. The host makes the `Context` from them, on the instance's clock, with
    the phase's deadline."""
    config = revision.config
    return ContextFields(
        request_id=request_id,
        func_name=config.func_name or "function",
        timeout=timeout,
        memory_size=config.memory_size,
        user_data=config.user_data,  # (no copy: a Context makes its own dict of both)
        encrypted_user_data=config.encrypted_user_data,
        package=config.package,
        project_id=config.project_id,
        version=revision.version,
        access_key=config.access_key,
        secret_key=config.secret_key,
        security_token=config.security_token,
        token=config.token,
    )
