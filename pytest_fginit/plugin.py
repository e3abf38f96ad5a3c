"""pytest glue: options, the ``fginit`` marker, the fixtures, the failure report section.
[test process]

Only pytest concerns live here; the emulator is imported lazily, when a test first asks for it,
so that having the plugin installed costs other test suites nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._config_checks import instance_setup_file, normalize_field
from ._config_sources import (
    check_user_data_update,
    fields_from_file,
    keep_parsed_files_in,
    var_files_from_marker,
    var_files_from_text,
    with_user_data_update,
)
from ._redaction import MASK, mask_report
from .config import (
    SECRET_FIELDS,
    check_known,
    field_help,
    field_names,
    parse_bool,
    parse_field_text,
)
from .errors import FunctionConfigError

if TYPE_CHECKING:
    from .context import Context
    from .emulator import FunctionEmulator
    from .records import Billing

__all__: list[str] = []  # no API to import: pytest finds the hooks and fixtures
# (--fginit-lifecycle and --fginit-require; the fg_emulator factory for Hypothesis)
pytest_plugins = ["pytest_fginit.lifecycle_plugin", "pytest_fginit.exploration_plugin"]
MARKER, SECTION = "fginit", "fginit lifecycle"
PLUGIN_OPTIONS = {
    "assert_all_faults_used": (
        "fail a passing test at teardown if a fault it registered was never used (default true)"
    ),
    "config": (
        "deployment file to read the function's configuration from: the API's function JSON, "
        "Terraform .tf or Serverless Devs s.yaml (path#name picks one of several functions)"
    ),
    "config_var_files": (
        "Terraform variable files for config, loaded after terraform.tfvars and *.auto.tfvars "
        "(ini and command line: separated by commas or new lines)"
    ),
    "freeze": (
        "session (default): freezegun's freeze, once an fg_function started it, stays on to the "
        "session's end, showing real time between tests; emulator: it ends with each emulator"
    ),
    "user_data_update": (
        "keys to add to (or change in) user_data, whichever layer set it (a deployment file, "
        "ini, a marker): a JSON object (in a marker, a dict); merged farthest first"
    ),
}
_BASE_FIELDS = pytest.StashKey[dict[str, Any]]()
_DEPLOYMENT_FILE = pytest.StashKey["Path | None"]()
_VAR_FILES = pytest.StashKey[list[Path]]()
_USER_DATA_UPDATE = pytest.StashKey[dict[str, str]]()
_STRICT_FAULTS = pytest.StashKey[bool]()
_EMULATORS = pytest.StashKey[list["FunctionEmulator"]]()
_FIELDS = pytest.StashKey[dict[str, Any]]()  # (fg_function's: their secrets masked in reports)
_CALL_FAILED = pytest.StashKey[bool]()
_FREEZE = pytest.StashKey[str]()  # (fginit_freeze; "held" once the session holds the freeze)
_USAGE = pytest.StashKey[dict[str, "Billing"]]()
"""Per emulated function (by name): what the session's tests made the platform do."""
_WORKER_USAGE = "fginit_usage"

_NOTHING_CONFIGURED = """\
fg_function: no function is configured for this test. Say where the function's code is, with a
marker (paths relative to the test file):

    @pytest.mark.fginit(code_root="fn", handler="index.handler",
                        initializer_handler="index.init", initializer_timeout=30)

or for the whole suite in pytest.ini / [tool.pytest.ini_options] (paths relative to that file):

    fginit_code_root = fn
    fginit_handler = index.handler
    fginit_initializer_handler = index.init"""


def _option_flag(name: str) -> str:
    return "--fginit-" + name.replace("_", "-")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fginit", "FunctionGraph emulation (pytest-fginit)")
    options = {name: field_help(name) for name in field_names()} | PLUGIN_OPTIONS
    for name, help_text in options.items():
        parser.addini(f"fginit_{name}", help_text, type="string", default=None)
        group.addoption(_option_flag(name), dest=f"fginit_{name}", default=None,
                        metavar="VALUE", help=f"{help_text} (overrides ini fginit_{name})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**fields): configure the FunctionGraph function that fg_function emulates, "
        "in FunctionGraph's field names (code_root, handler, initializer_handler, ...)",
    )
    ini_base = config.inipath.parent if config.inipath else config.rootpath
    cli_base = config.invocation_params.dir
    fields: dict[str, Any] = {}
    for name in field_names():
        cli_text = config.getoption(f"fginit_{name}")
        text, base, source = ((cli_text, cli_base, _option_flag(name)) if cli_text is not None
                              else (config.getini(f"fginit_{name}"), ini_base, f"fginit_{name}"))
        if text is None:
            continue
        try:
            value = normalize_field(name, parse_field_text(name, text))
        except FunctionConfigError as exc:
            shown = MASK if name in SECRET_FIELDS else repr(text)
            raise pytest.UsageError(f"{source} = {shown}: {exc}") from None
        fields[name] = _relative_to(base, name, value)
    config.stash[_BASE_FIELDS] = fields
    keep_parsed_files_in(getattr(config, "cache", None))  # (None: -p no:cacheprovider)
    cli_file = config.getoption("fginit_config")
    ini_file = config.getini("fginit_config")
    config.stash[_DEPLOYMENT_FILE] = (cli_base / cli_file if cli_file
                                      else ini_base / ini_file if ini_file else None)
    cli_vars = config.getoption("fginit_config_var_files")
    ini_vars = config.getini("fginit_config_var_files")
    config.stash[_VAR_FILES] = (var_files_from_text(cli_base, cli_vars) if cli_vars is not None
                                else var_files_from_text(ini_base, ini_vars or ""))
    cli_update = config.getoption("fginit_user_data_update")
    source = "fginit_user_data_update" if cli_update is None else "--fginit-user-data-update"
    update = config.getini(source) if cli_update is None else cli_update
    try:
        config.stash[_USER_DATA_UPDATE] = check_user_data_update(update) if update else {}
    except FunctionConfigError as exc:
        raise pytest.UsageError(f"{source} = {update!r}: {exc}") from None
    strict = config.getoption("fginit_assert_all_faults_used")
    strict = strict if strict is not None else config.getini("fginit_assert_all_faults_used")
    try:
        config.stash[_STRICT_FAULTS] = (
            True if strict is None else bool(parse_bool("assert_all_faults_used", strict))
        )
    except FunctionConfigError as exc:
        raise pytest.UsageError(f"fginit_assert_all_faults_used = {strict!r}: {exc}") from None
    config.stash[_FREEZE] = _freeze_mode(config)


def _freeze_mode(config: pytest.Config) -> str:
    mode = config.getoption("fginit_freeze") or config.getini("fginit_freeze") or "session"
    if mode not in ("session", "emulator"):
        raise pytest.UsageError(f"fginit_freeze = {mode!r}: is not one of session, emulator")
    return str(mode)


def _hold_freeze(config: pytest.Config) -> None:
    """``fginit_freeze = session``: the freeze outlives the first emulator, to the session's
    end, so that no later start scans every loaded module again (freezegun's start does)."""
    if config.stash.get(_FREEZE, None) == "session":
        from ._clock import hold_freeze

        hold_freeze()
        config.stash[_FREEZE] = "held"


def pytest_unconfigure(config: pytest.Config) -> None:
    # The fork server of process isolation lives as long as the session (one per xdist
    # worker); it was started only if a test used process isolation.
    keep_parsed_files_in(None)
    if config.stash.get(_FREEZE, None) == "held":
        from ._clock import release_freeze

        release_freeze()  # (the process reads real time again: freezegun's freeze ends)
    client = sys.modules.get("pytest_fginit._hosts.process.client")
    if client is not None:
        client.shutdown()


def function_fields(item: pytest.Item) -> dict[str, Any]:
    """The merged configuration of ``item``: a deployment file's keys (``config``, with its
    ``config_var_files``), then ini and options, then markers, closest last; then every
    ``user_data_update`` (ini, then markers, closest last) merged into ``user_data``."""
    __tracebackhide__ = True  # (the fields hold the secrets: pytest -l would show them)
    # A deep copy of what a hook could change in place (dicts, lists), so that the ini's
    # values stay as they were; strings, numbers and paths (immutable) are shared.
    fields: dict[str, Any] = {
        name: value if isinstance(value, (str, int, float, Path, type(None)))
        else copy.deepcopy(value)
        for name, value in item.config.stash.get(_BASE_FIELDS, {}).items()}
    deployment_file = item.config.stash.get(_DEPLOYMENT_FILE, None)
    var_files = item.config.stash.get(_VAR_FILES, [])
    ini_update: dict[str, str] = item.config.stash.get(_USER_DATA_UPDATE, {})
    update = dict(ini_update)
    markers = list(item.iter_markers(MARKER))  # closest first
    for marker in reversed(markers):
        if marker.args:
            raise FunctionConfigError(
                "fginit", f"takes keyword arguments only, got {marker.args!r}"
            )
        for name, value in marker.kwargs.items():
            if name == "config":
                if not isinstance(value, (str, Path)):
                    raise FunctionConfigError(name, f"{value!r} is not a path")
                deployment_file = item.path.parent / value
                continue
            if name == "config_var_files":
                var_files = var_files_from_marker(item.path.parent, value)
                continue
            if name == "user_data_update":
                update.update(check_user_data_update(value))
                continue
            if name == "freeze":
                raise FunctionConfigError(name, "is the session's: set it in ini or options")
            if name in PLUGIN_OPTIONS:
                if not isinstance(value, bool):
                    raise FunctionConfigError(name, f"{value!r} is not one of True, False")
                continue
            check_known([name])
            value = normalize_field(name, value)
            fields[name] = _relative_to(item.path.parent, name, value)
    if deployment_file is not None:  # the lowest layer: every key given here wins over it
        # (the keys given here are left out of the file's: never worked out, never an error)
        fields = {**fields_from_file(deployment_file, var_files=var_files, overridden=fields),
                  **fields}
    return with_user_data_update(fields, update)


def _relative_to(base: Path, name: str, value: Any) -> Any:
    """``value``, its path relative to ``base``: ``code_root``, an ``instance_setup`` file."""
    if name == "code_root" and value is not None:
        return base / value
    setup_file = instance_setup_file(value) if name == "instance_setup" else None
    if setup_file is not None:
        return f"{base / setup_file}:{value.rpartition(':')[2]}"
    return value


@pytest.fixture
def fg_function(request: pytest.FixtureRequest) -> Iterator[FunctionEmulator]:
    """A `FunctionEmulator` for this test's function (configured by marker and ini)."""
    __tracebackhide__ = True  # (``fields`` holds the secrets: pytest -l would show them)
    item = request.node
    emulator = emulator_for(item)
    item.stash.setdefault(_EMULATORS, []).append(emulator)
    config = emulator.config
    problem: FunctionConfigError | None = None
    # Reserved instances come up once every fixture is set up (pytest_runtest_call), or at
    # first use: a mock from a fixture set up after this one reaches their initializers too.
    try:
        emulator.start(defer_reserved=True)
    except FunctionConfigError as exc:  # (instance_setup is checked as the emulator starts)
        problem = exc
    _fail_on(problem)
    with emulator:
        yield emulator
    _add_usage(item.config, {config.func_name or "function": emulator.billing})
    if _strict_faults(item) and not item.stash.get(_CALL_FAILED, False):
        pending = emulator.faults.pending
        if pending:
            listed = emulator.redact("\n".join(
                f"  faults.{r.phase}: {r.description} (x{r.remaining} left)" for r in pending))
            pytest.fail(
                "fg_function: these faults were registered but never used:\n" + listed +
                "\nUse them, call fg_function.faults.clear(), or set "
                "assert_all_faults_used=false.",
                pytrace=False,
            )


def emulator_for(item: pytest.Item, keys: dict[str, Any] | None = None,
                 who: str = "fg_function") -> FunctionEmulator:
    """A new, unstarted emulator of ``item``'s function: its configuration (ini, markers,
    deployment file, ``keys`` on top, then the ``pytest_fginit_adjust_config`` hook), its
    notifications relayed to the plugin's hooks, the session's freeze held. An invalid
    configuration fails the test, named after the fixture (``who``)."""
    __tracebackhide__ = True  # (``fields`` holds the secrets: pytest -l would show them)
    from ._config_cache import config_for
    from .emulator import FunctionEmulator
    from .hooks import HookRelay

    problem: FunctionConfigError | None = None
    try:
        fields = item.stash[_FIELDS] = {**function_fields(item), **(keys or {})}
        if "code_root" not in fields:
            pytest.fail(_NOTHING_CONFIGURED.replace("fg_function", who), pytrace=False)
        # item.ihook: hooks of the conftest files that apply to this test's folder only.
        item.ihook.pytest_fginit_adjust_config(fields=fields, item=item)
        config = config_for(fields)
    except FunctionConfigError as exc:
        problem = exc
    _fail_on(problem, who)  # (outside the except: pytest would print the error twice)
    relay = HookRelay(item.ihook)
    emulator = FunctionEmulator(config, listeners=[relay])
    relay.emulator = emulator
    _hold_freeze(item.config)
    return emulator


def _fail_on(problem: FunctionConfigError | None, who: str = "fg_function") -> None:
    if problem is not None:
        pytest.fail(f"{who}: invalid function configuration: {problem}", pytrace=False)


def _add_usage(config: pytest.Config, usage: dict[str, Billing]) -> None:
    from .records import Billing

    totals = config.stash.setdefault(_USAGE, {})
    for name, billing in usage.items():
        totals[name] = totals.get(name, Billing()) + billing


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker hands its usage to the controller, which prints the summary.
    config = session.config
    if hasattr(config, "workeroutput") and _USAGE in config.stash:
        config.workeroutput[_WORKER_USAGE] = {  # (plain values: they cross to the controller)
            name: dataclasses.astuple(b) for name, b in config.stash[_USAGE].items()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    from .records import Billing

    usage = getattr(node, "workeroutput", {}).get(_WORKER_USAGE)
    if usage:
        _add_usage(node.config, {name: Billing(*values) for name, values in usage.items()})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    usage = config.stash.get(_USAGE, {})
    if not usage:  # (the plugin was not used)
        return
    terminalreporter.write_sep("-", "fginit: what the platform would have done")
    for name, billing in sorted(usage.items()):
        terminalreporter.write_line(f"function {name!r}: {billing.summary()}")


def _strict_faults(item: pytest.Item) -> bool:
    for marker in item.iter_markers(MARKER):  # closest first
        if "assert_all_faults_used" in marker.kwargs:
            return bool(marker.kwargs["assert_all_faults_used"])
    return item.config.stash.get(_STRICT_FAULTS, True)


@pytest.fixture
def fg_context() -> Callable[..., Context]:
    """A factory of FunctionGraph ``Context`` objects for plain unit tests of a handler."""
    from ._context_factory import make_context

    return make_context


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Every fixture is set up: bring up the reserved instances ``fg_function`` deferred."""
    for emulator in item.stash.get(_EMULATORS, []):
        emulator.bring_up_reserved()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call":  # (an xfailed test raised, though its report is "skipped")
        item.stash[_CALL_FAILED] = call.excinfo is not None
    emulators = item.stash.get(_EMULATORS, [])
    # (an emulator whose configuration holds no secret masks nothing: not walked)
    mask_report(report, [e.redact for e in emulators if e.config.secrets],
                item.stash.get(_FIELDS, {}), SECRET_FIELDS)
    if report.failed and call.when in ("setup", "call") and emulators:
        from .report import format_timeline

        for emulator in emulators:
            report.sections.append((SECTION, format_timeline(emulator)))
    if call.when == "teardown":
        # Items live for the whole session: let go of the instances (models, connections).
        item.stash[_EMULATORS], item.stash[_FIELDS] = [], {}
    return report
