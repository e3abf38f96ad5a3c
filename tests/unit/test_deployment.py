"""Configuration read from the files a function is deployed with: the FunctionGraph API's
function JSON, Terraform, Serverless Devs' s.yaml; explicit keys win over what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionConfigError

# (the files name Python3.9/3.10 runtimes: read here; test_config.py tests the runtime check)
pytestmark = pytest.mark.filterwarnings("ignore:runtime. 'Python3:UserWarning")


@pytest.fixture
def deploy(code) -> Path:
    """A deployment folder: the function's code in ``code/``."""
    root = code()
    root.rename(root.parent / "code")
    return root.parent


def test_the_api_function_json(deploy):
    (deploy / "code" / "function.json").write_text(json.dumps({
        "func_urn": "urn:fss:cn-north-4:proj:function:default:orders:latest",
        "func_name": "orders", "package": "default", "runtime": "Python3.9",
        "handler": "index.handler", "timeout": 30, "memory_size": 256, "code_type": "zip",
        "user_data": json.dumps({"DB_URL": "pg://db"}), "encrypted_user_data": "",
        "initializer_handler": "index.init", "initializer_timeout": 45,
        "strategy_config": {"concurrency": 400, "concurrent_num": 1},
    }))
    (deploy / "code" / "scaled.json").write_text(json.dumps({
        "handler": "index.handler", "strategy_config": {"concurrency": 5, "concurrent_num": 8}}))
    scaled = FunctionConfig.from_file(deploy / "code" / "scaled.json")
    assert (scaled.max_instance_num, scaled.concurrency_num) == (5, 8)
    (deploy / "code" / "bad.json").write_text(json.dumps({"strategy_config": 5}))
    with pytest.raises(FunctionConfigError, match="strategy_config must be an object"):
        FunctionConfig.from_file(deploy / "code" / "bad.json")
    config = FunctionConfig.from_file(deploy / "code" / "function.json")
    assert (config.func_name, config.runtime, config.timeout, config.memory_size) == (
        "orders", "Python3.9", 30, 256)
    assert (config.initializer_handler, config.initializer_timeout) == ("index.init", 45)
    assert config.user_data == {"DB_URL": "pg://db"} and config.encrypted_user_data == {}
    assert (config.max_instance_num, config.concurrency_num) == (400, 1)  # strategy_config
    assert config.code_root == deploy / "code"  # the file's folder, as nothing says otherwise
    overridden = FunctionConfig.from_file(deploy / "code" / "function.json", timeout=5)
    assert overridden.timeout == 5  # explicit keys win


TERRAFORM = """
variable "db_url" {
  type    = string
  default = "pg://db/orders"
}

variable "region" {}

resource "huaweicloud_fgs_function" "orders" {
  name                = "orders"
  app                 = "shop"
  handler             = "index.handler"
  runtime             = "Python3.10"
  memory_size         = 512
  timeout             = 15
  initializer_handler = "index.init"
  initializer_timeout = 120
  max_instance_num    = "10"
  concurrency_num     = 4
  code_type           = "obs"
  user_data = jsonencode({
    "DB_URL" : var.db_url,
    "POOL"   = "5"
  })
  reserved_instances {
    qualifier_type = "version"
    qualifier_name = "latest"
    count          = 2
  }
  reserved_instances {
    qualifier_type = "alias"
    qualifier_name = "prod"
    count          = var.prod_reserved
  }
}

variable "prod_reserved" {
  default = 1
}

resource "huaweicloud_fgs_function" "reports" {
  name    = "reports"
  handler = "index.handler"
  runtime = "Python3.10"
  timeout = 60
}

resource "huaweicloud_obs_bucket" "code" {
  bucket = "code"
}
"""


def test_terraform_picks_a_resource_by_name_and_resolves_jsonencode_and_variables(deploy):
    (deploy / "main.tf").write_text(TERRAFORM)
    config = FunctionConfig.from_file(deploy / "main.tf", resource="orders",
                                      code_root=deploy / "code")
    assert (config.func_name, config.package, config.memory_size, config.timeout) == (
        "orders", "shop", 512, 15)
    assert config.initializer_timeout == 120
    assert config.user_data == {"DB_URL": "pg://db/orders", "POOL": "5"}
    # (the provider types max_instance_num a string; reserved_instances blocks add up)
    assert (config.max_instance_num, config.concurrency_num, config.reserved_instances) == (
        10, 4, 3)
    reports = FunctionConfig.from_file(deploy / "main.tf", "reports", code_root=deploy / "code")
    assert (reports.func_name, reports.timeout) == ("reports", 60)
    assert (reports.max_instance_num, reports.reserved_instances) == (400, 0)  # the defaults


def test_terraform_unlimited_instances_and_a_bad_reserved_count(deploy):
    (deploy / "main.tf").write_text('resource "huaweicloud_fgs_function" "f" {\n'
                                    '  handler = "index.handler"\n'
                                    '  max_instance_num = "-1"\n'
                                    '  reserved_instances {\n    count = "x"\n  }\n}\n')
    with pytest.raises(FunctionConfigError, match=r"config: .*main.tf', resource "
                       r"huaweicloud_fgs_function.f, reserved_instances: count 'x' is not a "
                       r"whole number >= 0"):
        FunctionConfig.from_file(deploy / "main.tf", code_root=deploy / "code")
    (deploy / "main.tf").write_text('resource "huaweicloud_fgs_function" "f" {\n'
                                    '  handler = "index.handler"\n'
                                    '  max_instance_num = "-1"\n}\n')
    assert FunctionConfig.from_file(deploy / "main.tf",
                                    code_root=deploy / "code").max_instance_num == -1


def test_terraform_with_several_functions_needs_a_name(deploy):
    (deploy / "main.tf").write_text(TERRAFORM)
    with pytest.raises(FunctionConfigError, match=r"resource: .*main.tf' has 2 of "
                       r"huaweicloud_fgs_function resources \(orders, reports\): say which"):
        FunctionConfig.from_file(deploy / "main.tf")
    with pytest.raises(FunctionConfigError, match=r"'billing' is not in .*; it has: orders, "
                                                  r"reports"):
        FunctionConfig.from_file(deploy / "main.tf", resource="billing")


@pytest.mark.parametrize(("value", "named"), [
    ("jsonencode({A = local.a})", r"cannot work out \$\{jsonencode\(\{A = local.a\}\)\}: "
                                  "local.a is not set in the folder's locals blocks"),
    ("jsonencode({A = var.region})", "var.region has no default in the folder's variable"),
    ('"${filebase64("x")}"', r"the function filebase64\(\) is not supported; allowed: "
                             "format, join, jsonencode, lower, replace, tonumber, tostring"),
    ("var.db_url == null ? 1 : 2", "the operator == is not supported"),
    ("jsonencode({A = huaweicloud_obs_bucket.code.bucket})",
     "huaweicloud_obs_bucket.code.bucket is another resource's attribute"),
    ('"%{if true}x%{endif}"', "template directives"),
])
def test_terraform_values_only_terraform_could_know_are_errors_naming_them(deploy, value,
                                                                           named):
    (deploy / "main.tf").write_text(TERRAFORM.split('resource "huaweicloud_fgs_function" "re')[0]
                                    .replace('jsonencode({\n    "DB_URL" : var.db_url,\n'
                                             '    "POOL"   = "5"\n  })', value))
    with pytest.raises(FunctionConfigError) as raised:
        FunctionConfig.from_file(deploy / "main.tf", code_root=deploy / "code")
    message = str(raised.value)
    assert "main.tf', resource huaweicloud_fgs_function.orders, user_data" in message
    assert raised.match(named)


def test_malformed_files_get_an_error_naming_the_file(deploy):
    for name, text in [("main.tf", 'resource "x" {'), ("s.yaml", "services: [unclosed"),
                       ("function.json", "{not json")]:
        (deploy / name).write_text(text)
        with pytest.raises(FunctionConfigError, match=f"config: .*{name}' is not valid"):
            FunctionConfig.from_file(deploy / name)
    with pytest.raises(FunctionConfigError, match="not a deployment file this reads"):
        FunctionConfig.from_file(deploy / "code" / "index.py")


def test_a_bad_value_in_a_file_names_the_key_and_the_file(deploy):
    (deploy / "function.json").write_text(json.dumps({"handler": "index.handler",
                                                       "memory_size": 100}))
    with pytest.raises(FunctionConfigError, match=r"memory_size: 100 is not a FunctionGraph "
                                                  r"memory size.*\(read from .*function.json'\)"):
        FunctionConfig.from_file(deploy / "function.json")


SERVERLESS = """
edition: 1.0.0
name: shop
services:
  orders:
    component: fgs
    props:
      region: cn-north-4
      function:
        functionName: orders
        runtime: Python3.9
        handler: index.handler
        initializerHandler: index.init
        initializerTimeout: 30
        timeout: 10
        memorySize: 256
        concurrency: 10
        concurrentNum: 1
        environmentVariables:
          DB_URL: pg://db
        code:
          codeUri: ./code
"""


def test_a_serverless_devs_s_yaml(deploy):
    (deploy / "s.yaml").write_text(SERVERLESS)
    config = FunctionConfig.from_file(deploy / "s.yaml")
    assert (config.func_name, config.runtime, config.timeout, config.memory_size) == (
        "orders", "Python3.9", 10, 256)
    assert (config.initializer_handler, config.initializer_timeout) == ("index.init", 30)
    assert config.user_data == {"DB_URL": "pg://db"}
    assert (config.max_instance_num, config.concurrency_num) == (10, 1)
    assert config.code_root == deploy / "code"  # code.codeUri, relative to the file
    # Serverless Devs 3 lists them under "resources"
    (deploy / "s.yaml").write_text(SERVERLESS.replace("services:", "resources:"))
    assert FunctionConfig.from_file(deploy / "s.yaml").func_name == "orders"


def test_the_plugin_reads_a_deployment_file_from_ini_or_marker(project):
    (project.path / "deploy").mkdir()
    (project.path / "deploy" / "main.tf").write_text(
        TERRAFORM.replace('initializer_timeout = 120', 'initializer_timeout = 7'))
    project.makeini("[pytest]\nfginit_config = deploy/main.tf#orders\nfginit_code_root = fn\n")
    project.makepyfile(test_it="""
import pytest

def test_from_the_ini(fg_function):
    c = fg_function.config
    assert (c.func_name, c.memory_size, c.initializer_timeout) == ("orders", 512, 7)
    assert c.user_data == {"DB_URL": "pg://db/orders", "POOL": "5"}

@pytest.mark.fginit(config="deploy/main.tf#reports")
def test_another_resource_by_marker(fg_function):
    assert fg_function.config.func_name == "reports"

@pytest.mark.fginit(timeout=3)
def test_explicit_keys_win(fg_function):
    assert fg_function.config.timeout == 3
    assert fg_function.invoke().ok
""")
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
    bad = project.runpytest_subprocess("-p", "no:cacheprovider",
                                       "--fginit-config", "deploy/main.tf")
    bad.assert_outcomes(passed=1, errors=2)  # (the marker's file wins for one of them)
    bad.stdout.fnmatch_lines(["*invalid function configuration: resource: *main.tf' has 2 of "
                              "huaweicloud_fgs_function resources (orders, reports)*"])


def test_the_apis_empty_values_mean_unset_and_pre_stop_keys_are_read(deploy):
    (deploy / "function.json").write_text(json.dumps({
        "func_name": "orders", "handler": "index.handler", "initializer_handler": "",
        "initializer_timeout": 0, "user_data": "", "pre_stop_handler": "index.stop",
        "pre_stop_timeout": 30}))
    config = FunctionConfig.from_file(deploy / "function.json", code_root=deploy / "code")
    assert (config.initializer_handler, config.initializer_timeout) == (None, None)
    assert (config.pre_stop_handler, config.pre_stop_timeout) == ("index.stop", 30)
    (deploy / "s.yaml").write_text(SERVERLESS.replace(
        "        timeout: 10", "        timeout: 10\n        preStopHandler: index.stop\n"
                              "        preStopTimeout: 20"))
    from_yaml = FunctionConfig.from_file(deploy / "s.yaml")
    assert (from_yaml.pre_stop_handler, from_yaml.pre_stop_timeout) == ("index.stop", 20)


def test_terraform_heredocs_interpolated_variables_escapes_and_numbers_in_strings(deploy):
    (deploy / "variables.tf").write_text('''
variable "db_url" {
  default = "pg://db"
}
variable "never_used" {
  default = "${local.whatever}"
}
''')
    (deploy / "main.tf").write_text('''
resource "huaweicloud_fgs_function" "f" {
  name             = "f"
  handler          = "index.handler"
  timeout          = "30"
  pre_stop_handler = "index.stop"
  pre_stop_timeout = 20
  user_data = <<EOT
{"URL": "x", "PRICE": "$${price}"}
EOT
  encrypted_user_data = jsonencode({"DB" = "${var.db_url}", "RAW" = "a$${b}"})
}
''')
    config = FunctionConfig.from_file(deploy / "main.tf", code_root=deploy / "code")
    assert config.timeout == 30 and config.pre_stop_timeout == 20
    assert config.user_data == {"URL": "x", "PRICE": "${price}"}
    assert config.encrypted_user_data == {"DB": "pg://db", "RAW": "a${b}"}


@pytest.mark.parametrize(("text", "named"), [
    ("- a list\n", "an s.yaml is a mapping"),
    ("services: [1, 2]\n", "services must be a mapping"),
    ("services:\n  f:\n    props:\n      function:\n        handler: index.handler\n"
     "        code: ./src\n", "code must be a mapping with codeUri"),
])
def test_malformed_s_yaml_gets_an_error_naming_the_file(deploy, text, named):
    (deploy / "s.yaml").write_text(text)
    with pytest.raises(FunctionConfigError, match=f"config: .*s.yaml': {named}"):
        FunctionConfig.from_file(deploy / "s.yaml")


def test_from_file_tops_up_the_files_user_data(tmp_path):
    (tmp_path / "index.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "main.tf").write_text(
        'resource "huaweicloud_fgs_function" "f" {\n  name = "f"\n  handler = "index.handler"\n'
        '  user_data = jsonencode({ A = "1", B = "2" })\n}\n')
    config = FunctionConfig.from_file(tmp_path / "main.tf", user_data_update={"B": "test"})
    assert dict(config.user_data) == {"A": "1", "B": "test"}
    with pytest.raises(FunctionConfigError, match="user_data_update: entry 'C': 3 is not"):
        FunctionConfig.from_file(tmp_path / "main.tf", user_data_update={"C": 3})
