"""What each process imports of the package: the layers show in ``sys.modules``.

A user's suite that merely has the plugin installed, or freezes time itself, must not pay for
the control plane; an instance process must never import the test process's side.
"""

from __future__ import annotations

import textwrap

import pytest

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
            # (the plugin and what it imports at load time: the configuration's checks)
            assert set(loaded) <= {
                "pytest_fginit.plugin", "pytest_fginit.hooks", "pytest_fginit.config",
                "pytest_fginit.errors", "pytest_fginit._redaction"}, loaded
    """))
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)


def test_every_public_name_resolves():
    import pytest_fginit

    for name in pytest_fginit.__all__:
        assert getattr(pytest_fginit, name) is not None
