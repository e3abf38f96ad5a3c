"""Terraform deployment files as projects write them: Open Telekom Cloud's and Huawei Cloud's
function resources, variable files, locals, the expressions the emulator works out (and
only the ones it needs), the parse cache, and s.yaml / JSON files built to hurt."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionConfigError
from pytest_fginit._config_files import cache_info, read_deployment

OTC_MAIN = """
locals {
  tags = { team = "shop" }
}

resource "opentelekomcloud_obs_bucket" "codebucket" {
  bucket = replace(format("%s-%s", var.prefix, "codebucket"), "_", "-")
}

resource "opentelekomcloud_fgs_function_v2" "function" {
  depends_on = [opentelekomcloud_obs_bucket.codebucket]

  name                = format("%s-fn", var.prefix)
  app                 = "default"
  handler             = "index.handler"
  initializer_handler = "index.init"
  initializer_timeout = var.init_timeout
  memory_size         = 256
  timeout             = 3e1
  runtime             = "Python3.10"
  code_type           = "zip"
  func_code           = filebase64("${path.module}/code.zip")
  log_group_id        = opentelekomcloud_lts_group_v2.FunctionLogGroup.id
  user_data = jsonencode({
    STAGE  = upper(var.stage)
    PREFIX = "${var.prefix}-${local.tags.team}"
    BUCKET = replace("${var.prefix}_code", "/_+/", "-")
  })

  reserved_instances {
    count          = 1
    qualifier_name = "latest"
    qualifier_type = "version"
  }
}

resource "opentelekomcloud_fgs_async_invoke_config_v2" "async" {
  function_urn             = opentelekomcloud_fgs_function_v2.function.urn
  max_async_retry_attempts = 2
}
"""
OTC_VARIABLES = """
variable "prefix" {
  type = string
}
variable "stage" {
  default = "dev"
}
variable "init_timeout" {
  default = 10
}
"""


@pytest.fixture
def otc(code) -> Path:
    """Open Telekom Cloud's sample layout: main.tf, variables.tf, variables.tfvars (which
    Terraform loads only when named)."""
    folder = code().parent / "otc"
    folder.mkdir()
    (folder / "main.tf").write_text(OTC_MAIN)
    (folder / "variables.tf").write_text(OTC_VARIABLES)
    (folder / "variables.tfvars").write_text('prefix = "orders"\nstage = "prod"\n')
    return folder


def test_an_open_telekom_cloud_layout_with_its_variables_file_named(otc):
    config = FunctionConfig.from_file(otc / "main.tf", var_files=[otc / "variables.tfvars"],
                                      code_root=otc.parent / "fn")
    assert (config.func_name, config.timeout, config.memory_size) == ("orders-fn", 30, 256)
    assert (config.initializer_timeout, config.reserved_instances) == (10, 1)
    assert config.user_data == {"STAGE": "PROD", "PREFIX": "orders-shop", "BUCKET": "orders-code"}
    assert config.max_async_retry_attempts == 2  # (its async configuration, A44)
    # func_code's filebase64(), depends_on and log_group_id are never worked out: unused


def test_a_tfvars_file_terraform_does_not_load_is_named_in_the_error(otc):
    with pytest.raises(FunctionConfigError) as raised:
        FunctionConfig.from_file(otc / "main.tf", code_root=otc.parent / "fn")
    message = str(raised.value)
    assert "resource opentelekomcloud_fgs_function_v2.function, name: cannot work out " \
           '${format("%s-fn", var.prefix)}: var.prefix has no default' in message
    assert "variables.tfvars in the folder is not loaded on its own, as in Terraform: name " \
           "it with config_var_files" in message
    assert len(message.splitlines()) == 1


def test_keys_the_caller_gives_are_never_worked_out(otc):
    config = FunctionConfig.from_file(otc / "main.tf", code_root=otc.parent / "fn",
                                      func_name="given", user_data={"A": "b"})
    assert config.func_name == "given" and config.user_data == {"A": "b"}  # no var.prefix
    fields = read_deployment(otc / "main.tf", overridden={"func_name", "user_data", "timeout"})
    assert "timeout" not in fields and fields["memory_size"] == 256


HUAWEI_MAIN = """
variable "env" {
  default = "dev"
}
variable "memory" {
  default = 128
}
variable "reserved" {
  default = []
}

locals {
  prefix = "shop-${var.env}"
  common = { REGION = var.region, ENV = var.env }
}

resource "huaweicloud_fgs_function" "orders" {
  name        = "${local.prefix}-orders"
  app         = "default"
  handler     = "index.handler"
  runtime     = "Python3.10"
  memory_size = var.memory
  timeout     = tonumber("15")
  user_data   = jsonencode(merge(local.common, { DB = "orders" }))
  agency      = huaweicloud_identity_agency.fgs.name

  dynamic "reserved_instances" {
    for_each = var.reserved
    content {
      qualifier_type = "version"
      qualifier_name = reserved_instances.value.name
      count          = reserved_instances.value.count
    }
  }
}

resource "huaweicloud_fgs_function" "reports" {
  name        = lower(format("%s-Reports-%02d", local.prefix, 7))
  handler     = "index.handler"
  runtime     = "Python3.10"
  memory_size = 256
  timeout     = 60
  user_data   = jsonencode({ REGION = var.region, TAGS = join(",", ["a", "b"]) })
}

resource "huaweicloud_fgs_async_invoke_configuration" "orders" {
  function_urn = huaweicloud_fgs_function.orders.urn
}
"""


@pytest.fixture
def huawei(code) -> Path:
    """Several functions in one main.tf, with a terraform.tfvars and an auto.tfvars."""
    folder = code().parent / "hw"
    folder.mkdir()
    (folder / "main.tf").write_text(HUAWEI_MAIN)
    (folder / "terraform.tfvars").write_text('env = "test"\nregion = "cn-north-4"\n'
                                             "memory = 512\n")
    (folder / "b.auto.tfvars").write_text("memory = 1024\n")
    (folder / "a.auto.tfvars.json").write_text(json.dumps(
        {"memory": 768, "reserved": [{"name": "latest", "count": 2},
                                     {"name": "v1", "count": 1}]}))
    return folder


def test_a_huawei_layout_with_several_functions_and_terraform_tfvars(huawei):
    reports = FunctionConfig.from_file(f"{huawei / 'main.tf'}#reports",
                                       code_root=huawei.parent / "fn")
    assert reports.func_name == "shop-test-reports-07"  # terraform.tfvars beat the default
    assert reports.user_data == {"REGION": "cn-north-4", "TAGS": "a,b"}
    # merge() is not one of the functions worked out: an error naming key and function
    with pytest.raises(FunctionConfigError, match=r"orders, user_data: cannot work out "
                       r"\$\{jsonencode\(merge\(local.common.*the function merge\(\) is not "
                       "supported"):
        FunctionConfig.from_file(huawei / "main.tf", "orders", code_root=huawei.parent / "fn")
    orders = FunctionConfig.from_file(huawei / "main.tf#orders", code_root=huawei.parent / "fn",
                                      user_data={})
    # *.auto.tfvars in lexical order after terraform.tfvars: b (1024) beat a (768)
    assert (orders.func_name, orders.memory_size, orders.timeout) == (
        "shop-test-orders", 1024, 15)
    assert orders.reserved_instances == 3  # the dynamic blocks, from a.auto.tfvars.json


def test_named_variable_files_come_last_in_the_order_given(huawei):
    (huawei / "one.tfvars").write_text("memory = 256\n")
    (huawei / "two.tfvars.json").write_text('{"memory": 2048, "reserved": []}')
    fields = read_deployment(huawei / "main.tf#orders", overridden={"user_data"},
                             var_files=[huawei / "two.tfvars.json", huawei / "one.tfvars"])
    assert (fields["memory_size"], fields["reserved_instances"]) == (256, 0)
    with pytest.raises(FunctionConfigError, match=r"config_var_files: .*missing.tfvars' is "
                                                  "not a file"):
        read_deployment(huawei / "main.tf#orders", var_files=[huawei / "missing.tfvars"])


@pytest.mark.parametrize(("for_each", "named"), [
    ("[for r in var.reserved : r]", "for expressions are not supported"),
    ("huaweicloud_fgs_function.reports.versions", "another resource's attribute"),
    ('"two"', "'two' is not a list or an object"),
])
def test_a_dynamic_block_it_cannot_expand_is_refused_never_read_as_zero(huawei, for_each,
                                                                        named):
    (huawei / "main.tf").write_text(HUAWEI_MAIN.replace("for_each = var.reserved",
                                                        f"for_each = {for_each}"))
    with pytest.raises(FunctionConfigError, match=rf"orders, reserved_instances \(dynamic\), "
                                                  rf"for_each: .*{named}"):
        read_deployment(huawei / "main.tf#orders", overridden={"user_data"})


@pytest.mark.parametrize(("value", "expected"), [
    ("3e2", 300), ('"60"', 60), ("1.2e2", 120),
])
def test_numbers_in_exponent_form_are_whole_numbers_when_integral(tmp_path, value, expected):
    (tmp_path / "main.tf").write_text(
        f'resource "huaweicloud_fgs_function_v2" "f" {{\n  timeout = {value}\n}}\n')
    assert read_deployment(tmp_path / "main.tf")["timeout"] == expected


def test_a_fractional_number_for_a_whole_number_key_names_the_key(tmp_path):
    (tmp_path / "main.tf").write_text('resource "flexibleengine_fgs_function_v2" "f" {\n'
                                      "  timeout = 1.25e1\n}\n")
    with pytest.raises(FunctionConfigError, match=r"flexibleengine_fgs_function_v2.f, "
                                                  r"timeout: 12.5 is not a whole number"):
        read_deployment(tmp_path / "main.tf")


@pytest.mark.parametrize(("expression", "expected"), [
    ('format("%s/%d/%q/%t/%.1f/%%/%5s|", "a", 7, "q", true, 2.25, "r")',
     'a/7/"q"/true/2.2/%/    r|'),
    ('replace("a.b.c", ".", "-")', "a-b-c"),
    ('replace("v1.2.3", "/v([0-9]+)\\\\.([0-9]+).*/", "$1-${2}")', "1-2"),
    ('trimspace("  x \\n")', "x"),
    ('tostring(1e3)', "1000"),
    ('join("-", ["a", 1], ["b"])', "a-1-b"),
    ('"${path.module == "" ? 1 : 2}"', None),
    ('"tab\\there \\u00e9 $${not} %%{not}"', "tab\there é ${not} %{not}"),
    ('["a", "b"][1]', "b"),
    ('{ a = { b = "c" } }.a.b', "c"),
    ('lower(<<-EOT\n    HELLO ${"World"}\n    EOT\n)', "hello world\n"),
])
def test_expressions(tmp_path, expression, expected):
    (tmp_path / "main.tf").write_text(f'resource "huaweicloud_fgs_function" "f" {{\n'
                                      f"  handler = {expression}\n}}\n")
    if expected is None:
        with pytest.raises(FunctionConfigError, match="the operator == is not supported"):
            read_deployment(tmp_path / "main.tf")
    else:
        assert read_deployment(tmp_path / "main.tf")["handler"] == (
            expected)


def test_path_module_is_the_files_folder_and_locals_may_not_loop(tmp_path):
    (tmp_path / "main.tf").write_text(
        'locals {\n  a = local.b\n  b = local.a\n  dir = "${path.module}/src"\n}\n'
        'resource "huaweicloud_fgs_function" "f" {\n  handler = local.dir\n'
        "  runtime = local.a\n}\n")
    with pytest.raises(FunctionConfigError, match=r"runtime: cannot work out \$\{local.a\}: "
                                                  r"local.a = .*local.b = .*local.a refers to "
                                                  "itself"):
        read_deployment(tmp_path / "main.tf")
    assert read_deployment(tmp_path / "main.tf", overridden={"runtime"})["handler"] == (
        f"{tmp_path}/src")


def test_the_name_in_the_path_and_resource_must_agree_and_a_hash_in_a_folder_works(tmp_path):
    folder = tmp_path / "a#b"
    folder.mkdir()
    (folder / "main.tf").write_text('resource "huaweicloud_fgs_function" "f" {\n'
                                    '  handler = "index.handler"\n}\n')
    assert read_deployment(folder / "main.tf")["handler"] == "index.handler"
    assert read_deployment(f"{folder / 'main.tf'}#f", "f")["handler"] == "index.handler"
    with pytest.raises(FunctionConfigError, match=r"resource: 'g' disagrees with the #f of"):
        read_deployment(f"{folder / 'main.tf'}#f", "g")


def test_no_function_resource_names_every_type_it_reads(tmp_path):
    (tmp_path / "main.tf").write_text('resource "huaweicloud_fgs_async_invoke_configuration" '
                                      '"a" {\n  function_urn = "x"\n}\n')
    with pytest.raises(FunctionConfigError, match=r"has 0 of huaweicloud_fgs_function, "
                       "huaweicloud_fgs_function_v2, opentelekomcloud_fgs_function_v2, "
                       "flexibleengine_fgs_function_v2 resources$"):
        read_deployment(tmp_path / "main.tf")


def test_a_parsed_file_is_kept_until_it_changes_and_what_is_handed_out_is_a_copy(otc):
    var_files = [otc / "variables.tfvars"]
    read_deployment(otc / "main.tf", var_files=var_files)
    before = cache_info()["parses"]
    first = read_deployment(otc / "main.tf", var_files=var_files)
    assert cache_info()["parses"] == before  # main.tf, variables.tf, variables.tfvars: kept
    first["reserved_instances"] = 99
    assert read_deployment(otc / "main.tf", var_files=var_files)["reserved_instances"] == 1
    time.sleep(0.01)
    (otc / "variables.tfvars").write_text('prefix = "billing"\n')
    os.utime(otc / "variables.tfvars", ns=(time.time_ns(), time.time_ns()))
    changed = read_deployment(otc / "main.tf", var_files=var_files, overridden={"user_data"})
    assert changed["func_name"] == "billing-fn" and cache_info()["parses"] == before + 1


BILLION_LAUGHS = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
services:
  f:
    props:
      function:
        handler: index.handler
        environmentVariables: *e
"""


def test_yaml_aliases_that_expand_beyond_a_budget_are_refused(tmp_path):
    (tmp_path / "s.yaml").write_text(BILLION_LAUGHS)
    with pytest.raises(FunctionConfigError) as raised:
        read_deployment(tmp_path / "s.yaml")
    assert raised.match(r"s.yaml', key 'e', line 6: aliases repeat more than 10000 nodes")
    assert "lol" not in str(raised.value)
    (tmp_path / "s.yaml").write_text(
        "env: &env {A: b}\nservices:\n  f:\n    props:\n      function:\n"
        "        handler: index.handler\n        environmentVariables: *env\n")
    assert read_deployment(tmp_path / "s.yaml")["user_data"] == {"A": "b"}  # a small alias
    (tmp_path / "s.yaml").write_text("a: &a [1, *a]\n")
    with pytest.raises(FunctionConfigError, match=r"the alias \*a is inside the node it names"):
        read_deployment(tmp_path / "s.yaml")


def test_a_long_value_is_quoted_short(tmp_path):
    (tmp_path / "function.json").write_text(json.dumps({"handler": "x" * 10_000}))
    with pytest.raises(FunctionConfigError) as raised:
        FunctionConfig.from_file(tmp_path / "function.json")
    assert len(str(raised.value)) < 400 and "xxx..." in str(raised.value)


def test_deep_structures_work_and_too_deep_ones_are_errors_naming_the_key(tmp_path):
    def nested(depth: int) -> str:
        return "{a = " * depth + '"x"' + "}" * depth

    for depth, ok in ((40, True), (80, False), (400, False)):
        (tmp_path / "main.tf").write_text(
            f'resource "huaweicloud_fgs_function" "f" {{\n  handler = "index.h"\n'
            f"  user_data = jsonencode({{ A = jsonencode({nested(depth)}) }})\n}}\n")
        if ok:
            assert read_deployment(tmp_path / "main.tf")["user_data"].startswith(
                '{"A":"{\\"a\\":')
            continue
        with pytest.raises(FunctionConfigError) as raised:
            read_deployment(tmp_path / "main.tf")
        assert raised.match(r"main.tf', line 3 \(user_data\): nested too deeply for python-hcl2"
                            if depth == 400 else
                            r"f, user_data: cannot work out .*: nested more than 64 levels")
    (tmp_path / "function.json").write_text('{"user_data": ' + "[" * 100_000 + "]" * 100_000
                                            + "}")
    with pytest.raises(FunctionConfigError, match="nested"):
        read_deployment(tmp_path / "function.json")
    (tmp_path / "function.json").write_text(json.dumps({"handler": "index.h", "user_data":
                                                        json.loads("[" * 100 + "]" * 100)}))
    with pytest.raises(FunctionConfigError, match=r"user_data: nested more than 64"):
        read_deployment(tmp_path / "function.json")


ASYNC_TF = """
resource "huaweicloud_fgs_async_invoke_configuration" "thumbs" {
  function_urn                   = huaweicloud_fgs_function.thumbs.urn
  max_async_event_age_in_seconds = 3500
  max_async_retry_attempts       = "3"

  on_success {
    destination = "OBS"
    param       = jsonencode({ bucket = var.bucket, prefix = "/success", expires = 5 })
  }
  on_failure {
    destination = "SMN"
    param       = jsonencode({ topic_urn = "urn:smn:cn-north-4:p:failed" })
  }
}

resource "huaweicloud_fgs_async_invoke_configuration" "other" {
  function_urn             = huaweicloud_fgs_function.other.urn
  max_async_retry_attempts = 0
}
"""
THUMBS_TF = """
variable "bucket" {
  default = "thumbs-out"
}
resource "huaweicloud_fgs_function" "thumbs" {
  name    = "thumbs"
  handler = "index.handler"
}
"""


def test_the_async_configuration_that_names_the_function_is_read_from_its_folder(code):
    folder = code().parent / "tf"
    folder.mkdir()
    (folder / "main.tf").write_text(THUMBS_TF)
    (folder / "async.tf").write_text(ASYNC_TF)
    config = FunctionConfig.from_file(folder / "main.tf", code_root=code())
    assert (config.max_async_event_age_in_seconds, config.max_async_retry_attempts) == (3500, 3)
    assert config.destination_config == {
        "on_success": {"destination": "OBS",
                       "param": '{"bucket":"thumbs-out","expires":5,"prefix":"/success"}'},
        "on_failure": {"destination": "SMN",
                       "param": '{"topic_urn":"urn:smn:cn-north-4:p:failed"}'},
    }
    (folder / "again.tf").write_text(ASYNC_TF.replace('"thumbs" {', '"thumbs2" {', 1)
                                     .replace('"other"', '"other2"'))
    with pytest.raises(FunctionConfigError) as raised:
        FunctionConfig.from_file(folder / "main.tf", code_root=code())
    assert "huaweicloud_fgs_function.thumbs has 2 async invoke configurations" in str(
        raised.value)
