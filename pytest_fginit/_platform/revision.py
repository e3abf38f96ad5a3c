"""What new instances run: a configuration and a version, as the host and user code see them.
[test process]

`Revision` is what `update()` and `publish_version()` replace: the code to load
(`InstanceSpec`), the ``RUNTIME_*`` environment (`environment`) and the fields of the context
each phase receives (`context_for`). Instances already running keep what they were started
with; they are stopped on a redeploy.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
        "RUNTIME_CODE_ROOT": str(c.code_root.resolve()),
        "RUNTIME_ROOT": str(_PACKAGE_ROOT),
        "RUNTIME_LOG_DIR": tempfile.gettempdir(),
    }
    env.update(c.user_data)
    return env


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
