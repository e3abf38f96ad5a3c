"""Configuring the plugin in pytester sessions: ini options, command-line flags and markers
(how they merge, what paths are relative to), the usage errors naming a bad value, and
the options and markers pytest documents."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

def make_tests(pytester: pytest.Pytester, source: str, name: str = "test_fn") -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source)})


def test_ini_options_configure_the_suite_with_paths_relative_to_the_ini_file(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_initializer_handler = index.init
        fginit_timeout = 30
        fginit_user_data = {"DB_URL": "from-ini"}
    """)
    project.mkdir("tests")
    (project.path / "tests" / "test_ini.py").write_text(textwrap.dedent("""
        def test_configured_from_ini(fg_function):
            assert fg_function.config.timeout == 30
            assert fg_function.invoke({}).result["db"] == "from-ini"
    """))
    result = project.runpytest_subprocess("tests")
    result.assert_outcomes(passed=1)


def test_marker_paths_are_relative_to_the_test_file(project):
    project.mkdir("tests")
    (project.path / "tests" / "test_rel.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.fginit(code_root="../fn", initializer_handler="index.init")
        def test_relative(fg_function):
            assert fg_function.invoke({}).ok
    """))
    project.runpytest_subprocess().assert_outcomes(passed=1)


def test_markers_merge_key_by_key_closest_wins_over_ini(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_timeout = 5
        fginit_memory_size = 256
    """)
    make_tests(project, """
import pytest

pytestmark = pytest.mark.fginit(initializer_handler="index.init", timeout=10)

class TestMerge:
    pytestmark = pytest.mark.fginit(timeout=20, func_name="from-class")

    @pytest.mark.fginit(timeout=30)
    def test_closest(self, fg_function):
        c = fg_function.config
        assert (c.timeout, c.func_name, c.memory_size, c.initializer_handler) == (
            30, "from-class", 256, "index.init")

    def test_class(self, fg_function):
        assert fg_function.config.timeout == 20

def test_module(fg_function):
    assert fg_function.config.timeout == 10
""")
    project.runpytest_subprocess().assert_outcomes(passed=3)


def test_command_line_options_override_ini(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_timeout = 5
    """)
    make_tests(project, """
def test_timeout(fg_function):
    assert fg_function.config.timeout == 45
    assert fg_function.config.virtual_time is False
""")
    project.runpytest_subprocess("--fginit-timeout=45", "--fginit-virtual-time=off"
                                 ).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini_line", "expected"),
    [
        ("fginit_timeout = 1000", "*fginit_timeout = '1000': timeout: 1000 is out of range; "
                                  "allowed: a whole number from 3 to 900 (seconds)*"),
        ("fginit_memory_size = 100", "*fginit_memory_size = '100': memory_size: 100 is not a "
                                     "FunctionGraph memory size; allowed (MB): 128, 256*"),
        ("fginit_virtual_time = maybe", "*fginit_virtual_time = 'maybe': virtual_time: "
                                        "'maybe' is not one of true, false*"),
        ("fginit_user_data = {oops", "*fginit_user_data = '{oops': user_data: is not valid JSON*"),
        ("fginit_assert_all_faults_used = sometimes", "*fginit_assert_all_faults_used*"),
        ('fginit_encrypted_user_data = {"PW": "hunter2-secret", "N": 5}',
         "*fginit_encrypted_user_data = ******: encrypted_user_data: entry 'N': ****** is not*"),
    ],
)
def test_a_bad_ini_value_is_a_usage_error_naming_the_option(project, ini_line, expected):
    project.makeini(f"[pytest]\n{ini_line}\n")
    make_tests(project, "def test_never_runs():\n    pass\n")
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "hunter2-secret" not in result.stderr.str()


def test_a_bad_command_line_value_names_the_flag(project):
    make_tests(project, "def test_never_runs():\n    pass\n")
    result = project.runpytest_subprocess("--fginit-init-retries=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fginit-init-retries = 'lots': init_retries: 'lots' is not "
                                 "a whole number*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('code_root="fn", timeout=1', "*fg_function: invalid function configuration: timeout: 1 "
                                      "is out of range*"),
        ('code_root="fn", timout=30', "*fg_function: invalid function configuration: timout: "
                                      "unknown key; allowed keys: code_root, handler, *"),
        ('code_root="fn", handler="index"', "*handler: 'index' is not of the form file.function*"),
        ('code_root="nowhere"', "*code_root: '*nowhere' is not a folder*"),
        ('"fn"', "*fginit: takes keyword arguments only*"),
        ('code_root="fn", assert_all_faults_used="false"',
         "*assert_all_faults_used: 'false' is not one of True, False*"),
    ],
)
def test_a_bad_marker_fails_the_test_at_setup_naming_the_field(project, marker, expected):
    make_tests(project, f"""
import pytest

@pytest.mark.fginit({marker})
def test_x(fg_function):
    pass
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_x*", expected])


def test_nothing_configured_fails_at_setup_with_guidance(project):
    make_tests(project, "def test_x(fg_function):\n    pass\n")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*fg_function: no function is configured for this test*",
        '*@pytest.mark.fginit(code_root="fn", handler="index.handler",*',
        "*fginit_code_root = fn*",
    ])


def test_the_plugin_is_registered_and_documents_its_options(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines([
        "*FunctionGraph emulation (pytest-fginit):*",
        "*--fginit-code-root=VALUE*",
        "*--fginit-initializer-timeout=VALUE*",
        "*fginit_code_root (string):*",
    ])
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.fginit(**fields): configure the FunctionGraph*"])
