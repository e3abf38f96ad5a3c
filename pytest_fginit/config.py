"""`FunctionConfig`: one function's configuration, in FunctionGraph's own field names.
[test process]

Every key is declared once, as a dataclass field whose metadata says how to read it from text
(ini and command line) and what it means. The plugin's options, the marker's keys and the docs'
reference table are all derived from these fields, so they cannot drift apart.

Validation follows the platform's rules (reference R7, R8, R13 and section 2); each error names
the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ._config_checks import (
    DEFAULT_RUNTIME,
    FUNC_NAME,
    Isolation,
    check_runtime_matches,
    entry_file,
    instance_setup_file,
    json_object,
    normalize_field,
    resolve_path,
)
from ._config_checks import parse_bool as parse_bool  # (the plugin reads ini flags with it)
from ._config_sources import check_user_data_update, fields_from_file, with_user_data_update
from ._redaction import MASK
from .errors import FunctionConfigError

# Frames of this module (the dataclass's generated __init__ too: its globals are ours) are cut
# from pytest's tracebacks: with -l, __init__'s locals list every field, secrets included. The
# error's message names the field; pytest --full-trace still shows the frames.
__tracebackhide__ = True

# The API (re-exported by `pytest_fginit`); other names here are the package's own.
__all__ = ["FunctionConfig"]

FieldKind = Literal["path", "str", "optional_str", "int", "optional_int", "optional_float",
                    "bool", "dict"]


def _spec(kind: FieldKind, help: str, *, secret: bool = False) -> dict[str, Any]:
    return {"kind": kind, "help": help, "secret": secret}


@dataclass(frozen=True)
class FunctionConfig:
    """A FunctionGraph function as the emulator runs it. Validates on construction.

    Field names are FunctionGraph's (CreateFunction / UpdateFunctionConfig) so that values can
    be copied from a deployment; ``init_retries``, ``virtual_time``, ``real_time_limit``,
    ``invocations_kept`` and a few more are the emulator's own.
    """

    code_root: Path = field(
        default=None,  # type: ignore[assignment]  # required: checked in __post_init__
        metadata=_spec("path", "folder holding the function's code (required)"),
    )
    handler: str = field(
        default="index.handler",
        metadata=_spec("str", "handler entry, file.function (default index.handler)"),
    )
    initializer_handler: str | None = field(
        default=None,
        metadata=_spec("optional_str", "initializer entry, file.function in the handler's file"),
    )
    initializer_timeout: int | None = field(
        default=None,
        metadata=_spec("optional_int", "initializer timeout in seconds, 1-300 (default 3)"),
    )
    pre_stop_handler: str | None = field(
        default=None,
        metadata=_spec("optional_str", "pre-stop entry, file.function in the handler's file: "
                                       "runs when an instance is stopped"),
    )
    pre_stop_timeout: int | None = field(
        default=None,
        metadata=_spec("optional_int", "pre-stop timeout in seconds, 1-90 (default 3)"),
    )
    timeout: int = field(
        default=3, metadata=_spec("int", "handler timeout in seconds, 3-900 (default 3)"))
    memory_size: int = field(
        default=128, metadata=_spec("int", "memory in MB, one of FunctionGraph's sizes"))
    user_data: Mapping[str, str] = field(
        default_factory=dict,
        metadata=_spec("dict", "environment variables (JSON object of strings)"),
    )
    # Secret fields take no part in ==: pytest would print the differing values otherwise.
    encrypted_user_data: Mapping[str, str] = field(
        default_factory=dict, compare=False,
        metadata=_spec("dict", "secret variables, read with context.getUserData (never printed)",
                       secret=True),
    )
    func_name: str | None = field(
        default=None, metadata=_spec("optional_str", "function name (default: code_root's name)")
    )
    runtime: str = field(
        default=None,  # type: ignore[assignment]  # unset: reported as Python3.10, not checked
        metadata=_spec("optional_str", "runtime, e.g. Python3.10: checked against the Python "
                                       "that runs the test (runtime_check)"),
    )
    package: str = field(
        default="default", metadata=_spec("str", "the function's app (package), default 'default'")
    )
    project_id: str = field(
        default="fginit-project", metadata=_spec("str", "project ID that the context reports"))
    access_key: str = field(
        default="", repr=False, compare=False,
        metadata=_spec("str", "temporary access key the context hands out", secret=True),
    )
    secret_key: str = field(
        default="", repr=False, compare=False,
        metadata=_spec("str", "temporary secret key the context hands out", secret=True),
    )
    security_token: str = field(
        default="", repr=False, compare=False,
        metadata=_spec("str", "temporary security token the context hands out", secret=True),
    )
    token: str = field(
        default="", repr=False, compare=False,
        metadata=_spec("str", "IAM token the context hands out (getToken)", secret=True),
    )
    init_retries: int = field(
        default=3, metadata=_spec("int", "retries after a failed initialization (default 3)"))
    virtual_time: bool = field(
        default=True, metadata=_spec("bool", "run user code on the emulator's virtual clock"))
    real_time_limit: float | None = field(
        default=None,
        metadata=_spec(
            "optional_float",
            "real seconds a phase may run before it is taken as hung (virtual time only)",
        ),
    )

    concurrency_num: int = field(
        default=1,
        metadata=_spec("int", "requests one instance serves at once, 1-1000 (default 1)"),
    )
    max_instance_num: int = field(
        default=400,
        metadata=_spec("int", "most instances at once: -1 unlimited, 0 disables the function, "
                              "up to 1000 (default 400); over it requests are throttled"),
    )
    reserved_instances: int = field(
        default=0,
        metadata=_spec("int", "instances initialized when the emulator starts, used first, "
                              "never reclaimed (default 0)"),
    )
    instance_idle_timeout: int = field(
        default=60,
        metadata=_spec("int", "seconds an idle instance lives before it is reclaimed "
                              "(default 60)"),
    )
    isolation: Isolation = field(
        default="inprocess",
        metadata=_spec("str", "where instances run: inprocess (default) or process (one OS "
                              "process each)"),
    )
    instance_setup: str | None = field(
        default=None,
        metadata=_spec("optional_str", "package.module:function run inside each new instance "
                                       "before its code loads (fakes, patches)"),
    )
    inherit_env: bool = field(
        default=False,
        metadata=_spec("bool", "process isolation: pass the test process's environment to "
                               "instances (default false)"),
    )
    runtime_check: str = field(
        default="warn",
        metadata=_spec("str", "when runtime is not the Python running the test: warn "
                              "(default), error or off"),
    )
    invocations_kept: int | None = field(default=5_000, metadata=_spec(
        "optional_int", "invocations the records keep, the latest, per instance and per "
                        "function (default 5000; none keeps all)"))
    # Asynchronous invocation, in the API's names (UpdateFunctionAsyncInvokeConfig, A20):
    max_async_event_age_in_seconds: int | None = field(default=None, metadata=_spec(
        "optional_int", "async: seconds a request may wait for its attempts, 1-86400 (3600)"))
    max_async_retry_attempts: int | None = field(default=None, metadata=_spec(
        "optional_int", "async: retries after a failed attempt, 0-3 (1; 0 with no async key)"))
    destination_config: Mapping[str, Any] = field(default_factory=dict, metadata=_spec(
        "dict", 'async: {"on_success": {"destination": "SMN", "param": ...}, "on_failure": ...}'))

    def __post_init__(self) -> None:
        # The keys filled in below when left unset, as given: replace() starts from these.
        object.__setattr__(self, "_as_given", {name: getattr(self, name) for name in _DERIVED})
        for f in dataclasses.fields(self):
            value = normalize_field(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if self.code_root is None:
            raise FunctionConfigError(
                "code_root",
                "required: the folder holding your function's code, e.g. code_root='fn'",
            )
        # (resolved: immune to chdir)
        object.__setattr__(self, "code_root", resolve_path("code_root", self.code_root))
        setup_file = instance_setup_file(self.instance_setup)
        if setup_file is not None:  # (a file: found from here on, whatever the cwd)
            function = self.instance_setup.rpartition(":")[2]  # type: ignore[union-attr]
            object.__setattr__(self, "instance_setup",
                               f"{resolve_path('instance_setup', Path(setup_file))}:{function}")
        if self.runtime is None:
            object.__setattr__(self, "runtime", DEFAULT_RUNTIME)
        else:
            check_runtime_matches(self.runtime, self.runtime_check)
        handler_file = entry_file(self.handler)
        self._check_entries(handler_file)
        if not self.code_root.is_dir():
            raise FunctionConfigError(
                "code_root", f"{str(self.code_root)!r} is not a folder"
            )
        if self.handler_path is None:
            raise FunctionConfigError(
                "handler",
                f"{self.handler!r} needs {handler_file.replace('.', '/')}.py under code_root "
                f"{str(self.code_root)!r}, which does not exist",
            )
        if self.max_instance_num != -1 and self.reserved_instances > self.max_instance_num:
            raise FunctionConfigError(
                "reserved_instances",
                f"{self.reserved_instances} is more than max_instance_num "
                f"({self.max_instance_num}); allowed: at most max_instance_num")
        if self.func_name is None:
            name = self.code_root.name
            object.__setattr__(self, "func_name", name if FUNC_NAME.match(name) else "function")

    def _check_entries(self, handler_file: str) -> None:
        """The initializer and pre-stop entries are in the handler's file (R8); fill in their
        default timeouts."""
        if self.initializer_handler is not None:
            if entry_file(self.initializer_handler) != handler_file:
                raise FunctionConfigError(
                    "initializer_handler",
                    f"{self.initializer_handler!r} must be in the handler's file "
                    f"{handler_file!r} (handler {self.handler!r}) [FSS.1404 Invalid function "
                    "initializer.]",
                )
            if self.initializer_timeout is None:
                object.__setattr__(self, "initializer_timeout", 3)
        if self.pre_stop_handler is not None:
            if entry_file(self.pre_stop_handler) != handler_file:
                raise FunctionConfigError(
                    "pre_stop_handler",
                    f"{self.pre_stop_handler!r} must be in the handler's file {handler_file!r} "
                    f"(handler {self.handler!r})",
                )
            if self.pre_stop_timeout is None:  # [assumption] as the initializer's default
                object.__setattr__(self, "pre_stop_timeout", 3)

    # --- derived facts -------------------------------------------------------------------

    @property
    def handler_module(self) -> str:
        """The dotted module name of the handler's file, relative to ``code_root``."""
        return entry_file(self.handler)

    @property
    def handler_function(self) -> str:
        """The handler's function name in its file."""
        return self.handler.rpartition(".")[2]

    @property
    def initializer_function(self) -> str | None:
        """The initializer's function name in the handler's file, if one is configured."""
        return self.initializer_handler.rpartition(".")[2] if self.initializer_handler else None

    @property
    def pre_stop_function(self) -> str | None:
        """The pre-stop handler's function name in the handler's file, if one is configured."""
        return self.pre_stop_handler.rpartition(".")[2] if self.pre_stop_handler else None

    @property
    def handler_path(self) -> Path | None:
        """The handler's source file, or ``None`` if it does not exist."""
        base = self.code_root.joinpath(*self.handler_module.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):  # as Python does
            if candidate.is_file():
                return candidate
        return None

    @functools.cached_property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this configuration holds, for redaction (worked out once: a
        configuration is frozen, and the plugin keeps one for equal fields across tests)."""
        values: list[str] = [v for v in self.encrypted_user_data.values() if v]
        values += [getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.metadata["secret"] and isinstance(getattr(self, f.name), str)]
        return tuple(sorted({v for v in values if v}))

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> FunctionConfig:
        """Build from a mapping of keys, naming an unknown key rather than raising TypeError."""
        check_known(fields)
        return cls(**fields)

    @classmethod
    def from_file(cls, path: str | Path, resource: str | None = None, *,
                  var_files: Iterable[str | Path] = (),
                  user_data_update: Mapping[str, str] | str | None = None,
                  **overrides: Any) -> FunctionConfig:
        """Read a deployment file: the FunctionGraph API's function JSON, a Terraform file
        with a ``huaweicloud_fgs_function`` (or ``opentelekomcloud_fgs_function_v2``, ...)
        resource, or a Serverless Devs ``s.yaml`` (``resource``, or ``path#name``, picks one
        function when the file has several; ``var_files``: Terraform variable files to load
        after those Terraform loads itself). ``overrides`` win over what the file says, and
        the file's values for them are never worked out; ``code_root`` defaults to the
        file's (or its folder). ``user_data_update`` adds keys to (or changes keys of) the
        ``user_data`` that results, without retyping the file's."""
        fields = fields_from_file(path, resource, var_files=var_files, overridden=overrides)
        fields = {**fields, **overrides}
        if user_data_update is not None:
            fields = with_user_data_update(fields, check_user_data_update(user_data_update))
        return cls.from_fields(fields)

    def replace(self, **changes: Any) -> FunctionConfig:
        """A copy with ``changes`` applied, validated again.

        Keys that were filled in because they were unset (``func_name`` from the code root,
        ``initializer_timeout`` 3 for an initializer) are worked out again.
        """
        check_known(changes)
        as_given: dict[str, Any] = self._as_given  # type: ignore[attr-defined]
        return dataclasses.replace(self, **{**as_given, **changes})

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"]:
                if not value:
                    continue
                value = {k: MASK for k in value} if isinstance(value, Mapping) else MASK
            shown.append(f"{f.name}={value!r}")
        return f"FunctionConfig({', '.join(shown)})"


# --- the field table ------------------------------------------------------------------------

def field_names() -> tuple[str, ...]:
    """Every configuration key, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(FunctionConfig))


def field_kind(name: str) -> FieldKind:
    kind: FieldKind = _FIELDS[name].metadata["kind"]
    return kind


def field_help(name: str) -> str:
    help_text: str = _FIELDS[name].metadata["help"]
    return help_text


def check_known(names: Iterable[str]) -> None:
    """Raise `FunctionConfigError` for the first name that is not a configuration key."""
    unknown = sorted(set(names) - set(_FIELDS))
    if unknown:
        raise FunctionConfigError(
            unknown[0], "unknown key; allowed keys: " + ", ".join(field_names())
        )


def parse_field_text(name: str, text: str) -> Any:
    """Read one key's value from ini or command-line text (paths are left relative)."""
    kind = field_kind(name)
    text = text.strip()
    if kind in ("optional_str", "optional_int", "optional_float") and text.lower() in ("", "none"):
        return None
    if kind in ("int", "optional_int"):
        try:
            return int(text)
        except ValueError:
            raise FunctionConfigError(name, f"{text!r} is not a whole number") from None
    if kind == "optional_float":
        try:
            return float(text)
        except ValueError:
            raise FunctionConfigError(name, f"{text!r} is not a number of seconds") from None
    if kind == "bool":
        return parse_bool(name, text)
    if kind == "dict":
        return json_object(name, text)
    return text


_DERIVED = ("func_name", "initializer_timeout", "pre_stop_timeout", "runtime")
_FIELDS = {f.name: f for f in dataclasses.fields(FunctionConfig)}
SECRET_FIELDS: Final = tuple(name for name, f in _FIELDS.items() if f.metadata["secret"])
"""Keys whose values are secrets (never printed)."""
