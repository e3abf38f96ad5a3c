"""What each process imports of the package: the layers show in ``sys.modules``.

A user's suite that merely has the plugin installed, or freezes time itself, must not pay for
the control plane; an instance process must never import the test process's side.
"""

from __future__ import annotations

import textwrap

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator

pytest_plugins = ["pytester"]


def test_a_users_freeze_time_imports_no_module_of_the_control_plane(pytester: pytest.Pytester):
    # freezegun's start() calls dir() on every loaded module and reads each name it lists:
    # the package's lazy names must not be among them.
    pytester.makepyfile(test_freeze=textwrap.dedent("""
        import sys

        from freezegun import freeze_time

        import pytest_fginit


        def test_freeze():
            with freeze_time("2026-01-01"):
                pass
            loaded = sorted(name for name in sys.modules
                            if name.startswith("pytest_fginit."))
            print("LOADED", loaded)
            # (the plugins and what they import at load time: the configuration's checks, the
            # async keys' among them)
            assert set(loaded) <= {
                "pytest_fginit.plugin", "pytest_fginit.hooks", "pytest_fginit.config",
                "pytest_fginit.endpoint_plugin",
                "pytest_fginit._config_checks", "pytest_fginit._config_sources",
                "pytest_fginit._async_config", "pytest_fginit.errors",
                "pytest_fginit.lifecycle_plugin", "pytest_fginit.exploration_plugin",
                "pytest_fginit._redaction"}, loaded
    """))
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)


def test_every_public_name_resolves():
    import pytest_fginit

    for name in pytest_fginit.__all__:
        assert getattr(pytest_fginit, name) is not None


INSTANCE_PROCESS_MODULES = """
import sys

def init(context):
    pass

def handler(event, context):
    return sorted(name for name in sys.modules if name.startswith("pytest_fginit"))
"""
TEST_SIDE = ("pytest_fginit.emulator", "pytest_fginit.config", "pytest_fginit.faults",
             "pytest_fginit.records", "pytest_fginit.plugin", "pytest_fginit._platform",
             "pytest_fginit._hosts.process.host", "pytest_fginit._hosts.process.client",
             "pytest_fginit._hosts.inprocess.host")


def _local_exception() -> Exception:
    class LocalError(Exception):
        """Defined in a function: it does not pickle, a same-named stand-in crosses."""

    return LocalError("custom")


@pytest.mark.parametrize("exception", [ValueError("bad input"), _local_exception()],
                         ids=["pickled", "stand-in"])
def test_an_instance_process_imports_no_test_side_module_also_after_an_injected_exception(
        code, exception):
    config = FunctionConfig(code_root=code(INSTANCE_PROCESS_MODULES),
                            initializer_handler="index.init", isolation="process")
    with FunctionEmulator(config) as fn:
        fn.faults.handler.raises(exception)
        failed = fn.invoke()
        loaded = fn.invoke()  # the same instance, which unpickled the fault's exception
    assert not failed.ok and failed.error.type == type(exception).__name__
    assert loaded.ok and loaded.instance is failed.instance, loaded
    leaked = [name for name in loaded.result if name.startswith(TEST_SIDE)]
    assert leaked == [], leaked
    assert "pytest_fginit._hosts.process.runtime" in loaded.result  # (what it does import)


def test_fginit_help_and_generate_event_import_no_emulator_nor_freezegun(tmp_path):
    # (only invoke and serve run an emulator: the other commands start without its imports,
    # freezegun's the largest)
    import subprocess
    import sys

    code = textwrap.dedent("""
        import contextlib, io, sys
        from pytest_fginit.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["generate-event", "timer"]) == 0
            with contextlib.suppress(SystemExit):
                main(["invoke", "--help"])
        assert '"trigger_type": "TIMER"' in out.getvalue() and "--code-root" in out.getvalue()
        print(sorted(name for name in sys.modules if name.startswith(
            ("freezegun", "pytest_fginit.emulator", "pytest_fginit._hosts",
             "pytest_fginit.faults"))))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
