"""Deployment files through the plugin: ``config_var_files`` by marker and ini (paths relative
to the test file and to the ini file), keys the test gives never worked out, and a file named
in the ini parsed once for the whole session."""

from __future__ import annotations

import textwrap

pytest_plugins = ["pytester"]

MAIN_TF = """
variable "prefix" {}

resource "opentelekomcloud_fgs_function_v2" "function" {
  name        = format("%s-fn", var.prefix)
  handler     = "index.handler"
  memory_size = 256
  timeout     = 30
  runtime     = "Python3.10"
  func_code   = filebase64("${path.module}/code.zip")
}
"""


def write_deployment(project) -> None:
    (project.path / "deploy").mkdir()
    (project.path / "deploy" / "main.tf").write_text(MAIN_TF)
    (project.path / "deploy" / "variables.tfvars").write_text('prefix = "orders"\n')
    (project.path / "deploy" / "staging.tfvars").write_text('prefix = "staging"\n')


def test_config_var_files_by_ini_and_by_marker(project):
    write_deployment(project)
    project.makeini("[pytest]\nfginit_config = deploy/main.tf\nfginit_code_root = fn\n"
                    "fginit_config_var_files = deploy/variables.tfvars\n")
    project.mkdir("tests")
    (project.path / "tests" / "test_it.py").write_text(textwrap.dedent("""
        import pytest

        def test_from_the_ini(fg_function):
            assert fg_function.config.func_name == "orders-fn"

        @pytest.mark.fginit(config_var_files=["../deploy/staging.tfvars"])
        def test_from_the_marker(fg_function):
            assert fg_function.config.func_name == "staging-fn"

        @pytest.mark.fginit(config_var_files=[])
        def test_none(fg_function):
            pass

        @pytest.mark.fginit(config_var_files=[], func_name="given")
        def test_a_key_the_test_gives_is_never_worked_out(fg_function):
            assert fg_function.invoke().ok
    """))
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines([
        "*fg_function: invalid function configuration: config: *main.tf', resource "
        "opentelekomcloud_fgs_function_v2.function, name: cannot work out "
        '${format("%s-fn", var.prefix)}: var.prefix has no default in the folder*'
        "(staging.tfvars, variables.tfvars in the folder is not loaded on its own, as in "
        "Terraform: name it with config_var_files)"])


def test_a_bad_marker_value_names_the_key(project):
    write_deployment(project)
    project.makepyfile(test_it="""
import pytest

@pytest.mark.fginit(config="deploy/main.tf", code_root="fn", config_var_files=3)
def test_x(fg_function):
    pass
""")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*config_var_files: 3 is not a path or a list of paths*"])


def test_a_file_named_in_the_ini_is_parsed_once_for_the_session(project):
    write_deployment(project)
    project.makeini("[pytest]\nfginit_config = deploy/main.tf\nfginit_code_root = fn\n"
                    "fginit_config_var_files = deploy/variables.tfvars\n")
    project.makeconftest("""
from pytest_fginit._config_files import cache_info

def pytest_sessionfinish(session):
    info = cache_info()
    print("\\nparsed files:", info["parses"], "cache hits:", info["hits"],
          "answers kept:", info["answers"])
""")
    project.makepyfile(test_it="""
import pytest

@pytest.mark.parametrize("n", range(20))
def test_many(fg_function, n):
    assert fg_function.config.func_name == "orders-fn"
""")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=20)
    # main.tf and variables.tfvars, once each; the first test reads main.tf three times (for
    # its resource, again for the folder's variables and for an async configuration naming
    # the function: 2 hits); the 19 others ask the same question, answered while the files
    # are unchanged
    result.stdout.fnmatch_lines(["parsed files: 2 cache hits: 2 answers kept: 19"])


def test_the_next_session_reads_the_parsed_file_from_pytests_cache(project):
    """python-hcl2 takes about 0.2 s for a small file: kept in .pytest_cache between runs."""
    write_deployment(project)
    project.makeini("[pytest]\nfginit_config = deploy/main.tf\nfginit_code_root = fn\n"
                    "fginit_config_var_files = deploy/variables.tfvars\n")
    project.makeconftest("""
from pytest_fginit._config_files import cache_info

def pytest_sessionfinish(session):
    print("\\nparsed files:", cache_info()["parses"], "from the store:", cache_info()["stored"])
""")
    project.makepyfile(test_it="""
def test_one(fg_function):
    assert fg_function.config.func_name == "orders-fn"
""")
    first = project.runpytest_subprocess("-s")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["parsed files: 2 from the store: 0"])
    second = project.runpytest_subprocess("-s")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["parsed files: 2 from the store: 2"])
    without = project.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    without.assert_outcomes(passed=1)
    without.stdout.fnmatch_lines(["parsed files: 2 from the store: 0"])


USER_DATA_TF = """
resource "huaweicloud_fgs_function" "orders" {
  name      = "orders"
  handler   = "index.handler"
  user_data = jsonencode({ DB_URL = "pg://prod", REGION = "cn-north-4", MODE = "file" })
}
"""


def test_user_data_update_adds_to_the_files_user_data_layer_by_layer(project):
    (project.path / "main.tf").write_text(USER_DATA_TF)
    project.makeini("[pytest]\nfginit_config = main.tf\nfginit_code_root = fn\n"
                    'fginit_user_data_update = {"MODE": "ini", "FROM_INI": "1"}\n')
    project.makepyfile(test_it="""
        import pytest

        @pytest.mark.fginit(user_data_update={"MODE": "class", "FROM_CLASS": "1"})
        class TestOrders:
            @pytest.mark.fginit(user_data_update={"DB_URL": "pg://test"})
            def test_layers(self, fg_function):
                assert dict(fg_function.config.user_data) == {
                    "DB_URL": "pg://test", "REGION": "cn-north-4", "MODE": "class",
                    "FROM_INI": "1", "FROM_CLASS": "1"}

            @pytest.mark.fginit(user_data={"ONLY": "this"})
            def test_a_whole_user_data_still_gets_the_updates(self, fg_function):
                assert dict(fg_function.config.user_data) == {
                    "ONLY": "this", "MODE": "class", "FROM_INI": "1", "FROM_CLASS": "1"}

        @pytest.mark.fginit(user_data_update={"PORT": 5432})
        def test_bad_value(fg_function):
            pass
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*fg_function: invalid function configuration: user_data_update: entry 'PORT': "
        "5432 is not a string*"])


def test_a_bad_user_data_update_in_the_ini_is_a_usage_error(project):
    project.makeini("[pytest]\nfginit_code_root = fn\nfginit_user_data_update = [1]\n")
    project.makepyfile(test_it="def test_it(fg_function):\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 4
    assert ("ERROR: fginit_user_data_update = '[1]': user_data_update: must be a JSON object"
            in result.stderr.str())
