"""The package's own quality gates: `ruff` and `mypy --strict` clean (configuration in
pyproject.toml), and the package's shape (architecture.md).

Shape: imports go one way, between the modules the design allows; the public surface is
exactly what the docs list; each module says which processes it runs in; no module or function
grows past the sizes a reader takes in at once.

`ALLOWED` transcribes the layout of ``shared/design/architecture.md`` (section 1.1, with the
cuts the code taught us). Every import counts: at the top, inside a function (lazy) and under
``TYPE_CHECKING``. A new edge is a design decision: add it here, in the same commit, and say
why in the commit message.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_fginit

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean():
    if shutil.which("ruff") is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean():
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


PACKAGE = Path(pytest_fginit.__file__).resolve().parent

ALLOWED: dict[str, set[str]] = {
    # pytest glue (layer 5): the only modules that import pytest
    "plugin": {"config", "errors", "_redaction", "emulator", "report", "hooks", "records",
               "context", "_config_checks", "_config_sources", "_context_factory",
               "_clock", "_config_cache"},  # (_clock: the session's hold on the freeze)
    "_context_factory": {"config", "context", "_config_checks", "_redaction"},
    "hooks": {"emulator", "records"},
    # the lifecycle report (issue 15): the paths, read from the records; the emulator's type
    "lifecycle_plugin": {"_lifecycle_paths", "emulator", "records"},
    "_lifecycle_paths": {"records"},
    # exploration (issue 15): schedules, Hypothesis' strategies, the fg_emulator factory
    "schedule": set(),
    "strategies": {"schedule"},
    "exploration_plugin": {"plugin", "hooks", "errors", "_config_cache", "emulator"},
    "_config_cache": {"config"},
    "report": {"records", "errors", "emulator"},
    # the façade (layer 4)
    "__init__": {"config", "context", "emulator", "errors", "faults", "records", "events",
                 "async_records", "schedule", "strategies"},
    "_trigger_verbs": {"_async_config", "_platform.async_notice", "_platform.async_queue",
                       "config", "errors", "records", "async_records", "events", "schedule",
                       "_endpoint.routes"},  # (the URN's one spelling)
    "emulator": {"_trigger_verbs", "_platform.placement", "_platform.pool", "_platform.dispatch",
                 "_platform.outcomes", "_platform.revision", "_platform.parallel", "_hosts",
                 "_hosts.protocol", "config", "faults", "records", "errors", "context",
                 "_clock", "_redaction", "_retention"},
    "_retention": {"records"},  # (what a long run keeps, and its totals: the emulator's)
    "endpoint_plugin": {"emulator", "endpoint"},
    # the command line (layer 5, beside the pytest glue: the command plays the test's part)
    "cli": {"_cli.invoke", "_cli.serve", "_cli.options", "_cli.generate"},
    "_cli.generate": {"_cli.options", "events"},
    "_cli": set(),
    "_cli.options": {"config", "errors", "faults"},
    "_cli.invoke": {"_cli.options", "_cli.generate", "emulator", "records", "report"},
    "_cli.serve": {"_cli.options", "emulator", "endpoint"},
    # the endpoint is a façade of its own, beside the package's: its HTTP server is imported
    # only by who asks for it
    "endpoint": {"_endpoint.routes", "_endpoint.server", "emulator"},
    # the local endpoint (layer 3, beside the control plane): HTTP in front of emulators,
    # through their public verbs only
    "_endpoint": set(),
    "_endpoint.server": {"_endpoint.answers", "_endpoint.routes", "_endpoint.signature",
                         "_endpoint.async_list", "errors", "emulator"},
    "_endpoint.async_list": {"_endpoint.routes", "async_records"},
    "_endpoint.answers": {"_endpoint.routes", "_endpoint.signature", "config", "records"},
    "_endpoint.routes": set(),
    "_endpoint.signature": set(),
    # the control plane (layer 3): never runs user code
    "_platform": set(),
    "_platform.placement": {"records", "errors", "_clock"},
    "_platform.parallel": {"_clock"},
    # asynchronous invocation (issue 13): the queue decides, the emulator runs its batches
    "_platform.async_notice": {"_async_config", "async_records"},
    "_platform.async_queue": {"records", "async_records", "_async_config",
                              "_platform.async_notice"},
    "_platform.outcomes": {"errors", "_redaction", "_hosts.protocol", "records"},
    "_platform.revision": {"config", "context", "errors", "_hosts", "_hosts.protocol",
                           "_clock", "_redaction", "_config_checks"},
    "_platform.pool": {"_platform.placement", "_platform.outcomes", "_platform.parallel",
                       "_platform.revision", "records", "errors", "faults", "config",
                       "context", "_hosts.protocol", "_clock", "_redaction"},
    "_platform.dispatch": {"_platform.placement", "_platform.pool", "_platform.outcomes",
                           "_platform.parallel", "_platform.revision", "records", "errors",
                           "faults", "config", "context", "_hosts.protocol", "_clock",
                           "_redaction"},
    # the public model (layer 2)
    "events": {"_events.apig", "_events.checks", "_events.templates", "_events.loading"},
    "_events": set(),
    "_events.checks": set(),
    "_events.templates": set(),
    "_events.apig": {"_events.checks", "_events.templates"},
    # (saved test events: the deployment files' own Terraform reader, not a second one)
    "_events.loading": {"_config_files", "_config_files.common", "_config_files.hcl_eval",
                        "_config_files.hcl_functions", "_config_files.terraform", "errors",
                        "_events.checks"},
    "config": {"errors", "_redaction", "_config_sources", "_config_checks"},
    "_config_sources": {"errors", "_config_checks", "_config_files"},
    "records": {"errors", "_redaction", "_http_view"},
    "async_records": {"errors", "records"},
    "_http_view": {"errors", "_redaction", "_events.apig"},
    "faults": {"_hosts.protocol", "_redaction"},
    # the hosts (layer 2, beside the model): no platform rule, no config, no records
    "_hosts": {"_clock", "_redaction", "_hosts.protocol", "_hosts.instance_setup",
                        "_hosts.inprocess.host", "_hosts.process.host"},
    "_hosts.instance_setup": set(),
    "_hosts.inprocess": set(),
    "_hosts.inprocess.deadline": {"_clock"},
    "_hosts.inprocess.namespace": {"_clock"},  # (real time: is a source file racy?)
    "_hosts.inprocess.patches": {"_clock", "_redaction", "_hosts.protocol",
                                 "_hosts.inprocess.deadline"},
    "_hosts.inprocess.interrupts": {"_hosts.inprocess.patches"},
    "_hosts.inprocess.phase": {"_clock", "_redaction", "context", "_hosts.protocol",
                               "_hosts.instance_setup", "_hosts.inprocess.interrupts",
                               "_hosts.inprocess.deadline", "_hosts.inprocess.namespace",
                               "_hosts.inprocess.patches"},
    "_hosts.inprocess.hygiene": {"_clock"},
    "_hosts.inprocess.leftovers": {"_hosts.inprocess.deadline", "_hosts.inprocess.patches"},
    "_hosts.inprocess.host": {"_clock", "_redaction", "_hosts.protocol",
                              "_hosts.inprocess.deadline", "_hosts.inprocess.namespace",
                              "_hosts.inprocess.patches", "_hosts.inprocess.phase",
                              "_hosts.inprocess.hygiene", "_hosts.inprocess.leftovers"},
    "_hosts.process": set(),
    "_hosts.process.host": {"_clock", "_redaction", "context", "_hosts.protocol",
                            "_hosts.inprocess.namespace", "_hosts.process.client",
                            "_hosts.process.wire", "_hosts.process.coverage_support"},
    "_hosts.process.client": {"_clock", "_hosts.process.wire"},
    "_hosts.process.server": {"_clock", "_hosts.process.wire",
                              "_hosts.process.coverage_support", "_hosts.process.runtime"},
    "_hosts.process.runtime": {"_clock", "_redaction", "context", "_hosts.protocol",
                               "_hosts.inprocess.deadline", "_hosts.inprocess.namespace",
                               "_hosts.inprocess.patches", "_hosts.inprocess.phase",
                               "_hosts.inprocess.interrupts",
                               "_hosts.process.wire", "_hosts.process.coverage_support"},
    # leaves (layer 1)
    "_async_config": {"errors"},
    "errors": set(),
    "context": {"_redaction"},
    "_clock": set(),
    "_redaction": set(),
    "_config_files": {"errors", "_config_files.api_json", "_config_files.common",
                      "_config_files.serverless", "_config_files.terraform"},
    "_config_files.common": {"errors"},
    "_config_files.api_json": {"errors", "_config_files.common"},
    "_config_files.serverless": {"errors", "_config_files.common"},
    "_config_files.hcl_functions": {"_config_files.common"},
    "_config_files.hcl_eval": {"_config_files.common", "_config_files.hcl_functions"},
    "_config_files.terraform": {"errors", "_config_files.api_json", "_config_files.common",
                                "_config_files.hcl_eval", "_config_files.hcl_functions",
                                "_config_files.terraform_async"},
    "_config_files.terraform_async": {"errors", "_config_files.common",
                                      "_config_files.hcl_eval"},
    "_config_checks": {"errors", "_redaction", "_async_config"},
    "_hosts.protocol": {"context"},
    "_hosts.process.wire": set(),
    "_hosts.process.coverage_support": set(),
}
"""Module (relative to the package) -> the package modules it may import."""

THIRD_PARTY_OWNERS = {"freezegun": {"_clock"},
                      "pytest": {"plugin", "hooks", "report", "lifecycle_plugin",
                                 "exploration_plugin", "endpoint_plugin"}}
"""Libraries only these modules may import: one seam for time, one layer for pytest."""

PUBLIC = {
    "__version__", "FunctionConfig", "Context", "ContextLogger", "EmulatorListener",
    "FunctionEmulator", "ERROR_CODES", "ErrorKind", "FunctionConfigError", "FunctionError",
    "InstanceSetupError", "InvocationError", "Faults", "FaultRule", "PhaseFaults", "Billing",
    "InitAttempt", "Instance", "InstanceState", "Invocation", "PreStop", "JournalEntry",
    "ApiResponse", "events", "HttpResponse", "AsyncInvocation", "AsyncStatus", "Delivery",
    "Note", "Schedule", "Step", "strategies",
}
"""What ``docs/reference.md`` ("Public names") documents as the API."""
PUBLIC_MODULE_NAMES = {"events", "strategies"}
"""Of `PUBLIC`, the public modules (``from pytest_fginit import events``)."""
EVENT_FACTORIES = {
    "apig", "timer", "obs", "smn", "dis", "kafka", "rabbitmq", "rocketmq", "lts", "cts", "dds",
    "gaussmongo", "eventgrid", "iotedge", "load",
}
"""``pytest_fginit.events``' API: a factory per trigger type code (docs/events.md), and
`load`."""


def module_name(path: Path) -> str:
    """``_hosts/process/wire.py`` -> ``_hosts.process.wire``; a subpackage's ``__init__.py``
    by the subpackage's name; the package's own ``__init__.py`` as ``__init__``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the module: package modules relative to
    the package, others by their top-level name."""
    known = modules()
    # (the package a relative import starts from: a subpackage's __init__ is its own)
    package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "__init__":
        package_parts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, _inside(alias.name) or alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                inside = _inside(node.module or "")
                if inside is None:
                    yield node.lineno, (node.module or "").partition(".")[0]
                    continue
                base = inside.split(".") if inside != "__init__" else []
            else:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                base += (node.module or "").split(".") if node.module else []
            for alias in node.names:
                candidate = ".".join([*base, alias.name])
                if candidate in known:
                    yield node.lineno, candidate
                else:
                    yield node.lineno, ".".join(base) or "__init__"


def _inside(dotted: str) -> str | None:
    """``pytest_fginit.x.y`` -> ``x.y``; ``None`` for a module outside the package."""
    if dotted == "pytest_fginit":
        return "__init__"
    if dotted.startswith("pytest_fginit."):
        return dotted.removeprefix("pytest_fginit.")
    return None


def edges() -> Iterator[tuple[str, int, str]]:
    known = modules()
    for name, path in known.items():
        for line, target in imports(name, path):
            yield name, line, target


def test_every_module_of_the_package_is_placed_in_the_design():
    assert set(modules()) == set(ALLOWED)


def test_imports_go_only_where_the_layers_allow_naming_file_and_line():
    known = modules()
    wrong: list[str] = []
    for name, line, target in edges():
        if target in known:
            if target != name and target not in ALLOWED.get(name, set()):
                wrong.append(f"pytest_fginit/{known[name].relative_to(PACKAGE)}:{line} -> "
                             f"{target}")
        elif target in THIRD_PARTY_OWNERS and name not in THIRD_PARTY_OWNERS[target]:
            wrong.append(f"pytest_fginit/{known[name].relative_to(PACKAGE)}:{line} -> "
                         f"{target} (only {sorted(THIRD_PARTY_OWNERS[target])} may)")
    wrong = sorted(set(wrong))  # (one line per import statement, not per name)
    assert wrong == [], "imports the layer rules forbid:\n" + "\n".join(wrong)


def test_the_allowed_edges_have_no_cycle():
    # (an edge in ALLOWED is only permission: this keeps the permissions one-way too)
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            pytest.fail("cycle: " + " -> ".join([*path, name]))
        state[name] = "visiting"
        for target in sorted(ALLOWED.get(name, set())):
            visit(target, [*path, name])
        state[name] = "done"

    for name in sorted(ALLOWED):
        visit(name, [])


def test_the_fork_server_and_the_instance_process_never_reach_the_test_side():
    test_side = {"_hosts.process.host", "_hosts.process.client"}
    for module in ("_hosts.process.server", "_hosts.process.runtime"):
        assert not ALLOWED[module] & test_side, module


def test_the_public_surface_is_the_documented_set():
    assert set(pytest_fginit.__all__) == PUBLIC
    assert len(pytest_fginit.__all__) == len(PUBLIC)  # (no name listed twice)


def test_every_type_a_public_record_hands_out_is_public():
    import dataclasses
    import typing

    from pytest_fginit import records

    reachable = set()
    for cls in (records.Instance, records.InitAttempt, records.Invocation, records.PreStop,
                records.Billing):
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if field.name.startswith("_"):
                continue
            for arg in typing.get_args(hints[field.name]) or (hints[field.name],):
                for inner in typing.get_args(arg) or (arg,):
                    if getattr(inner, "__module__", "").startswith("pytest_fginit"):
                        reachable.add(inner.__name__)
    assert reachable, "the walk found nothing: it is broken"
    assert reachable <= PUBLIC, reachable - PUBLIC


ENDPOINT_PUBLIC = {"LocalEndpoint", "serve"}
"""``pytest_fginit.endpoint``'s API (public, not re-exported: its HTTP server is imported only
by who asks for it), as ``docs/reference.md`` lists it."""


def test_the_endpoints_surface_is_the_documented_set():
    from pytest_fginit import endpoint

    assert set(endpoint.__all__) == ENDPOINT_PUBLIC
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert "from pytest_fginit.endpoint import serve, LocalEndpoint" in reference
    assert not ENDPOINT_PUBLIC & set(pytest_fginit.__all__)


PUBLIC_MODULES = ("config", "context", "emulator", "errors", "faults", "records", "hooks",
                  "plugin", "report", "async_records", "schedule")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_a_public_modules_all_lists_only_api_the_package_re_exports(name):
    import importlib

    module = importlib.import_module(f"pytest_fginit.{name}")
    listed = set(module.__all__)
    assert listed <= PUBLIC, listed - PUBLIC
    for exported in listed:
        assert getattr(pytest_fginit, exported) is getattr(module, exported)


def test_every_public_name_is_listed_by_the_module_that_defines_it():
    import importlib

    listed = set()
    for name in PUBLIC_MODULES:
        listed |= set(importlib.import_module(f"pytest_fginit.{name}").__all__)
    assert listed == PUBLIC - {"__version__"} - PUBLIC_MODULE_NAMES


def test_a_public_module_is_reached_as_an_attribute_of_the_package():
    import importlib

    for name in PUBLIC_MODULE_NAMES:
        assert getattr(pytest_fginit, name) is importlib.import_module(f"pytest_fginit.{name}")


def test_the_events_module_offers_one_factory_per_documented_trigger_and_load():
    from pytest_fginit import events

    assert set(events.__all__) == EVENT_FACTORIES
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in EVENT_FACTORIES if f"`events.{name}(" not in page)
    assert undocumented == [], f"docs/events.md does not document {undocumented}"


PROCESS_TAG = re.compile(r"\[(?:[^\]]*)(?:test process|fork server|instance process|every "
                         r"process)(?:[^\]]*)\]")


@pytest.mark.parametrize("name", sorted(modules()))
def test_each_module_says_which_processes_it_runs_in(name):
    docstring = ast.get_docstring(ast.parse(modules()[name].read_text(encoding="utf-8")))
    assert docstring, f"{name}: no docstring"
    first_paragraph = " ".join(docstring.split("\n\n")[0].split())
    assert PROCESS_TAG.search(first_paragraph), (
        f"{name}: the docstring's first paragraph names no process, e.g. [test process]")


MODULE_LINES = 400
FUNCTION_LINES = 50
LONG_BECAUSE = "# long because:"
"""A function may run longer when a comment in it, starting so, says why."""


def test_no_module_or_function_is_longer_than_a_reader_takes_in():
    too_long: list[str] = []
    for path in modules().values():
        text = path.read_text(encoding="utf-8")
        shown = f"pytest_fginit/{path.relative_to(PACKAGE)}"
        if len(text.splitlines()) > MODULE_LINES:
            too_long.append(f"{shown}: {len(text.splitlines())} lines (> {MODULE_LINES})")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                body = lines[node.lineno - 1:node.end_lineno]
                if length > FUNCTION_LINES and not any(LONG_BECAUSE in line for line in body):
                    too_long.append(f"{shown}:{node.lineno} {node.name}: {length} lines "
                                    f"(> {FUNCTION_LINES}, and no {LONG_BECAUSE!r} comment)")
    assert too_long == [], "\n".join(too_long)
