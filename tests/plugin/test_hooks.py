"""The plugin's hooks in pytester sessions: adjusting the configuration (validated the
same way, per test, per folder's conftest) and hearing about instances and requests."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MARKED = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                initializer_timeout=30, user_data={"DB_URL": "pg://db"},
                                encrypted_user_data={"PASSWORD": "hunter2-secret"})
"""


def make_tests(pytester: pytest.Pytester, source: str, name: str = "test_fn") -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source)})


def test_the_plugins_hooks_adjust_the_config_and_hear_about_events(project):
    project.makeconftest("""
        EVENTS = []

        def pytest_fginit_adjust_config(fields, item):
            fields["timeout"] = 60
            fields.setdefault("user_data", {})["ADDED_BY_HOOK"] = "yes"

        def pytest_fginit_instance_state_changed(instance, previous, emulator):
            EVENTS.append((instance.id, previous, instance.state))

        def pytest_fginit_invocation_finished(invocation, emulator):
            EVENTS.append((invocation.request_id[-1], invocation.ok, emulator.config.func_name))
    """)
    make_tests(project, MARKED + """
from conftest import EVENTS

def test_hooks(fg_function):
    assert fg_function.config.timeout == 60
    assert fg_function.config.user_data["ADDED_BY_HOOK"] == "yes"
    fg_function.faults.initializer.raises(OSError("once"))
    fg_function.invoke({})
    assert EVENTS == [
        ("instance-1", None, "initializing"), ("instance-1", "initializing", "failed"),
        ("instance-2", None, "initializing"), ("instance-2", "initializing", "ready"),
        ("1", True, "fn"),
    ]
""")
    project.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("change", "expected"),
    [('fields["memory_size"] = 100', "*memory_size: 100 is not a FunctionGraph memory size*"),
     ('fields["timout"] = 30', "*timout: unknown key; allowed keys: code_root, handler,*")],
)
def test_a_hook_that_breaks_the_config_gets_the_same_validation(project, change, expected):
    project.makeconftest(f"""
        def pytest_fginit_adjust_config(fields, item):
            {change}
    """)
    make_tests(project, MARKED + "def test_x(fg_function):\n    pass\n")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])


def test_a_hook_changing_dicts_in_place_changes_only_its_own_test(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_user_data = {"A": "1"}
    """)
    project.makeconftest("""
        def pytest_fginit_adjust_config(fields, item):
            fields["user_data"][item.name] = "yes"
    """)
    make_tests(project, """
def test_one(fg_function):
    assert fg_function.config.user_data == {"A": "1", "test_one": "yes"}

def test_two(fg_function):
    assert fg_function.config.user_data == {"A": "1", "test_two": "yes"}
""")
    project.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_hooks_in_a_folders_conftest_apply_to_that_folder_only(project):
    for folder, timeout in (("a", 40), ("b", None)):
        project.mkdir(folder)
        if timeout:
            (project.path / folder / "conftest.py").write_text(
                f"def pytest_fginit_adjust_config(fields, item):\n"
                f"    fields['timeout'] = {timeout}\n")
        (project.path / folder / f"test_{folder}.py").write_text(textwrap.dedent(f"""
            import pytest

            @pytest.mark.fginit(code_root="../fn")
            def test_timeout(fg_function):
                assert fg_function.config.timeout == {timeout or 3}
        """))
    project.runpytest_subprocess().assert_outcomes(passed=2)
