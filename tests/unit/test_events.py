"""``pytest_fginit.events``: each factory, bare, is the console's template; each keyword sets
its field, encoded as the platform encodes it; bad arguments are named; `load` reads JSON
files and Terraform test-event resources.

The expected events are the reference's own text (``tests/data/events/*.json``, copied from
``trigger-events.md`` section 2), never the package's constants.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

import pytest_fginit
from pytest_fginit import events
from pytest_fginit._events.apig import response_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "events"


def reference(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("factory", "template"), [
    ("apig", "apig"), ("timer", "timer"), ("obs", "obs"), ("smn", "smn"), ("dis", "dis"),
    ("kafka", "kafka"), ("rabbitmq", "rabbitmq"), ("rocketmq", "rocketmq"), ("lts", "lts"),
    ("cts", "cts"), ("dds", "dds"), ("gaussmongo", "gaussmongo"), ("eventgrid", "eventgrid"),
    ("iotedge", "iotedge"),
])
def test_a_factory_called_bare_is_the_consoles_template(factory, template):
    assert getattr(events, factory)() == reference(template)


def test_each_call_gives_a_new_event_the_caller_may_change():
    first = events.obs()
    first["Records"][0]["s3"]["object"]["key"] = "changed"
    assert events.obs() == reference("obs")


def test_the_package_reaches_the_module_as_an_attribute():
    assert pytest_fginit.events is events
    assert "events" in pytest_fginit.__all__


def test_importing_the_factories_reads_no_deployment_file_machinery():
    # (only load() needs the Terraform reader and python-hcl2: a suite of factories pays nothing)
    code = ("import sys, pytest_fginit.events; "
            "print(sorted(m for m in sys.modules if 'config_files' in m or m == 'hcl2'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


# --- the variants the sources disagree on --------------------------------------------------

def test_the_variants_where_sources_disagree():
    assert events.timer(version="v1.0", user_event={"message": "timer triggered event",
                                                    "topic": "test"}) == {
        **reference("timer_v1"),
        "user_event": '{"message":"timer triggered event","topic":"test"}'}
    assert events.kafka(instance_id_in="record", region="xx-xxxx-1") == reference("kafka_2021")
    assert events.dds(as_objects=True, region="xx-xxxxx-1") == reference("dds_objects")
    assert events.eventgrid(source_type="ROCKETMQ") == reference("eventgrid_rocketmq")


# --- APIG ------------------------------------------------------------------------------------

def test_apig_sets_the_request_and_base64_encodes_the_body():
    event = events.apig(method="post", path="/users/7", body={"a": 1},
                        headers={"X-Trace-Id": "t1", "Accept": None},
                        query={"page": "2", "tag": ["a", "b"]}, path_params={"id": "7"},
                        request_id="req-1", stage="TEST")
    assert event["httpMethod"] == "POST" and event["path"] == "/users/7"
    assert event["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(event["body"])) == {"a": 1}
    assert event["queryStringParameters"] == {"page": "2", "tag": ["a", "b"]}
    assert event["pathParameters"] == {"id": "7"}
    headers = event["headers"]
    assert headers["x-trace-id"] == "t1" and "accept" not in headers  # lower-cased; removed
    assert headers["content-type"] == "application/json"  # (a JSON body)
    assert headers["host"] == reference("apig")["headers"]["host"]  # the gateway's stay
    assert event["requestContext"] == {**reference("apig")["requestContext"],
                                       "requestId": "req-1", "stage": "TEST"}
    assert "user_data" not in event


@pytest.mark.parametrize(("body", "raw"), [
    (b"\x00\xffbinary", b"\x00\xffbinary"), ("héllo", "héllo".encode()), ([1, 2], b"[1,2]"),
])
def test_apig_bodies_arrive_as_base64_of_their_bytes(body, raw):
    event = events.apig("PUT", "/x", body=body)
    assert base64.b64decode(event["body"]) == raw


def test_apig_without_base64_sends_the_text_and_an_empty_body_stays_empty():
    event = events.apig("POST", "/x", body='{"name": "T Cloud Public"}', base64_body=False)
    assert event["body"] == '{"name": "T Cloud Public"}' and event["isBase64Encoded"] is False
    assert "content-type" not in event["headers"]  # (a str body: the test says what it is)
    assert events.apig("POST", "/x", body="")["body"] == ""
    assert events.apig(user_data="tenant-1")["user_data"] == "tenant-1"


@pytest.mark.parametrize(("call", "error", "names"), [
    (lambda: events.apig(method="FETCH"), ValueError, ["method", "'FETCH'", "GET, POST"]),
    (lambda: events.apig(path="users"), ValueError, ["path", "start with '/'"]),
    (lambda: events.apig(path="/u?a=1"), ValueError, ["path", "query="]),
    (lambda: events.apig(query={"page": 2}), TypeError, ["query['page']", "int"]),
    (lambda: events.apig(headers={"a": 1}), TypeError, ["headers['a']"]),
    (lambda: events.apig(path_params={"id": ["7"]}), TypeError, ["path_params['id']"]),
    (lambda: events.apig(body=object()), TypeError, ["body", "JSON"]),
    (lambda: events.apig(body=b"\xff", base64_body=False), ValueError, ["body", "UTF-8"]),
    (lambda: events.apig(base64_body="yes"), TypeError, ["base64_body", "True or False"]),
])
def test_apig_bad_arguments_are_named(call, error, names):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith("events.apig(): ")
    for name in names:
        assert name in str(raised.value)


def test_the_apig_response_contract():
    assert response_problem(reference("apig_response")) is None
    assert response_problem(reference("apig_response_base64")) is None
    good = reference("apig_response")
    assert "str" in response_problem("Hello")
    assert "no isBase64Encoded" in response_problem({k: v for k, v in good.items()
                                                     if k != "isBase64Encoded"})
    assert "statusCode is str" in response_problem({**good, "statusCode": "200"})
    assert "statusCode is bool" in response_problem({**good, "statusCode": True})
    assert "headers is list" in response_problem({**good, "headers": []})
    assert "not base64" in response_problem({**good, "isBase64Encoded": True,
                                             "body": "not base64!"})
    assert response_problem({**good, "extra": 1}) is None



class _Dict(dict):  # (not a plain dict: the check takes its long way)
    pass


def test_the_response_contracts_quick_path_answers_as_its_long_way():
    # A plain dict with plain values is checked at once; every answer is the full check's.
    good = reference("apig_response")
    results = [good, {**good, "isBase64Encoded": True}, {**good, "statusCode": True},
               {**good, "statusCode": 200.0}, {**good, "headers": _Dict()},
               {**good, "body": b"x"}, {**good, "isBase64Encoded": 0},
               {k: v for k, v in good.items() if k != "headers"}, {**good, "extra": [1]},
               {**good, "isBase64Encoded": True, "body": "aGk="}]
    for result in results:
        assert response_problem(result) == response_problem(_Dict(result)), result


def test_every_apig_event_is_a_copy_of_its_own_to_change():
    first = events.apig()
    for key in ("headers", "requestContext", "queryStringParameters", "pathParameters"):
        first[key]["changed"] = "yes"
    assert events.apig() == reference("apig")


# --- the other triggers ---------------------------------------------------------------------

def test_timer_sets_its_fields_and_passes_the_user_event_as_configured():
    event = events.timer("nightly report", "nightly", time="2026-01-01T00:00:00+08:00")
    assert event == {**reference("timer"), "user_event": "nightly report",
                     "trigger_name": "nightly", "time": "2026-01-01T00:00:00+08:00"}


def test_obs_url_encodes_the_key_and_follows_the_bucket():
    event = events.obs(bucket="photos", key="in/cat 1.png", size=12,
                       event_name="ObjectCreated:Put", region="eu-de")
    record = event["Records"][0]
    assert record["s3"]["object"]["key"] == "in%2Fcat+1.png"
    assert unquote_plus(record["s3"]["object"]["key"]) == "in/cat 1.png"
    assert record["s3"]["bucket"]["name"] == "photos"
    assert record["s3"]["bucket"]["arn"] == "arn:fss:s3:::photos"
    assert (record["s3"]["object"]["size"], record["eventName"], record["awsRegion"]) == (
        12, "ObjectCreated:Put", "eu-de")
    assert events.obs(key="in/a.png", encode_key=False)["Records"][0]["s3"]["object"][
        "key"] == "in/a.png"


def test_smn_sets_message_subject_and_topic():
    event = events.smn({"order": 7}, "orders", topic_urn="urn:smn:eu-de:p:orders",
                       message_attributes={"kind": "new"})
    smn = event["record"][0]["smn"]
    assert json.loads(smn["message"]) == {"order": 7}
    assert (smn["subject"], smn["topic_urn"], smn["message_attributes"]) == (
        "orders", "urn:smn:eu-de:p:orders", {"kind": "new"})


def test_dis_base64_encodes_each_record_and_numbers_them():
    event = events.dis([b"\x01\x02", "text", {"n": 1}], stream="clicks", partition_key="p1")
    records = event["Message"]["records"]
    assert [base64.b64decode(r["data"]) for r in records] == [b"\x01\x02", b"text", b'{"n":1}']
    assert [r["sequence_number"] for r in records] == ["0", "1", "2"]
    assert {r["partition_key"] for r in records} == {"p1"}
    assert event["StreamName"] == "clicks"
    assert [base64.b64decode(r["data"]) for r in events.dis()["Message"]["records"]] == [
        b"welcome", b"using", b"FunctionStage", b"service"]


def test_the_message_queues_carry_plain_strings():
    kafka = events.kafka(["a", {"b": 1}], topic="orders", instance_id="i-1", event_time=5)
    assert kafka["records"] == [{"messages": ["a", '{"b":1}'], "topic_id": "orders"}]
    assert (kafka["instance_id"], kafka["event_time"]) == ("i-1", 5)
    rabbit = events.rabbitmq(["m"], exchange="ex", instance_id="i-2")
    assert rabbit["records"] == [{"messages": ["m"], "instance_id": "i-2", "exchange": "ex"}]
    rocket = events.rocketmq(["m"], topic="t", instance_id="i-3", region="eu-de")
    assert rocket["records"] == [{"messages": ["m"], "topic_id": "t"}]
    assert (rocket["instance_id"], rocket["region"]) == ("i-3", "eu-de")


def decoded_lts(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = json.loads(base64.b64decode(event["lts"]["data"]))
    return data, json.loads(data["logs"])


def test_lts_data_is_encoded_twice():
    data, logs = decoded_lts(events.lts(["first", {"message": "whole", "line_no": 9}],
                                        log_group_id="g1"))
    assert data["log_group_id"] == "g1" and isinstance(data["logs"], str)
    template_log = json.loads(reference("lts_data_decoded")["logs"])[0]
    assert logs[0] == {**template_log, "message": "first", "line_no": 1}
    assert logs[1] == {"message": "whole", "line_no": 9}
    assert decoded_lts(events.lts())[0] == reference("lts_data_decoded")


def test_cts_sets_the_trace():
    trace = events.cts("createFunction", resource_name="f1", code=200, user_name="alice",
                       request={"name": "f1"})["cts"]
    assert (trace["trace_name"], trace["resource_name"], trace["code"]) == (
        "createFunction", "f1", 200)
    assert trace["user"]["name"] == "alice" and trace["request"] == {"name": "f1"}


def test_dds_and_gaussmongo_carry_documents_as_json_strings():
    record = events.dds("update", full_document={"name": "x"}, ns={"db": "d", "coll": "c"})[
        "records"][0]
    assert record["event_name"] == "update"
    assert json.loads(record["dds"]["full_document"]) == {"name": "x"}
    assert json.loads(record["dds"]["ns"]) == {"db": "d", "coll": "c"}
    objects = events.dds(full_document='{"a": 1}', as_objects=True)["records"][0]["dds"]
    assert objects["full_document"] == {"a": 1}
    gauss = events.gaussmongo("delete", token={"_data": "T"})
    assert gauss["records"][0]["event_name"] == '"delete"'
    assert json.loads(gauss["records"][0]["gauss_mongo"]["token"]) == {"_data": "T"}
    assert gauss["vernier"] == gauss["records"][0]["gauss_mongo"]["token"]


def test_eventgrid_and_iotedge():
    cloud_event = events.eventgrid({"k": "v"}, source="orders", id="e-1")
    assert cloud_event["data"] == {"k": "v"} and cloud_event["id"] == "e-1"
    assert cloud_event["subject"] == "RABBITMQ:region:domainId/projectId:RABBITMQ:orders"
    custom = events.eventgrid(subject="s", event_type="t")
    assert (custom["subject"], custom["type"]) == ("s", "t")
    device = events.iotedge({"temp": 30}, service_id="thermo", device_id="d-1")
    assert device["services"][0]["properties"] == {"temp": 30}
    assert (device["services"][0]["service_id"], device["device_id"]) == ("thermo", "d-1")


@pytest.mark.parametrize(("call", "error", "start", "names"), [
    (lambda: events.obs(event_name="Bogus"), ValueError, "events.obs(): event_name",
     ["'Bogus'", "ObjectCreated:Put", "ObjectRemoved:Delete"]),
    (lambda: events.obs(size=-1), ValueError, "events.obs(): size", ["below 0"]),
    (lambda: events.obs(size="1"), TypeError, "events.obs(): size", ["int"]),
    (lambda: events.timer(version="v3.0"), ValueError, "events.timer(): version",
     ["v2.0, v1.0"]),
    (lambda: events.timer(user_event=5), TypeError, "events.timer(): user_event", ["str"]),
    (lambda: events.dis(records="abc"), TypeError, "events.dis(): records", ["list"]),
    (lambda: events.dis(records=[object()]), TypeError, "events.dis(): records[0]", ["bytes"]),
    (lambda: events.kafka(messages=[1]), TypeError, "events.kafka(): messages[0]", ["str"]),
    (lambda: events.kafka(instance_id_in="topic"), ValueError,
     "events.kafka(): instance_id_in", ["event, record"]),
    (lambda: events.lts(logs=[1]), TypeError, "events.lts(): logs[0]", ["dict"]),
    (lambda: events.dds(event_name="upsert"), ValueError, "events.dds(): event_name",
     ["insert, update, replace, delete"]),
    (lambda: events.dds(full_document="{"), ValueError, "events.dds(): full_document",
     ["JSON"]),
    (lambda: events.eventgrid(source_type="KAFKA"), ValueError,
     "events.eventgrid(): source_type", ["RABBITMQ, ROCKETMQ"]),
    (lambda: events.eventgrid(data={1, 2}), TypeError, "events.eventgrid(): data", ["JSON"]),
    (lambda: events.iotedge(properties=[1]), TypeError, "events.iotedge(): properties",
     ["dict"]),
])
def test_bad_arguments_name_the_argument_and_what_it_takes(call, error, start, names):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(start)
    for name in names:
        assert name in str(raised.value)


# --- load -----------------------------------------------------------------------------------

def test_load_reads_an_events_json_file():
    assert events.load(DATA / "obs_real.json") == reference("obs_real")
    assert events.load(str(DATA / "cts_trace.json")) == reference("cts_trace")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.fixture
def terraform(tmp_path: Path) -> Path:
    write(tmp_path, "event.json", json.dumps(events.dis(["from a file"])))
    write(tmp_path, "variables.tf", """
        variable "event_content" {
          default = <<EOT
        {"key": "value"}
        EOT
        }
        """)
    return write(tmp_path, "events.tf", f"""
        locals {{
          upload = {{ bucket = "photos", key = "a.png" }}
        }}
        resource "huaweicloud_fgs_function_event" "literal" {{
          function_urn = huaweicloud_fgs_function.f.urn
          name         = "literal"
          content      = "{b64(events.timer('hello'))}"
        }}
        resource "huaweicloud_fgs_function_event" "encoded_json" {{
          function_urn = huaweicloud_fgs_function.f.urn
          name         = "encoded-json"
          content      = base64encode(jsonencode(local.upload))
        }}
        resource "huaweicloud_fgs_function_event" "variable" {{
          function_urn = "urn"
          name         = "variable"
          content      = base64encode(var.event_content)
        }}
        resource "opentelekomcloud_fgs_event_v2" "from_file" {{
          function_urn = "urn"
          name         = "from-file"
          content      = filebase64("${{path.module}}/event.json")
        }}
        resource "huaweicloud_fgs_function_event" "plain_json" {{
          function_urn = "urn"
          name         = "plain"
          content      = "{{\\"key\\": 1}}"
        }}
        resource "huaweicloud_fgs_function" "f" {{
          name = "f"
        }}
        """)


def test_load_reads_a_terraform_event_resource_by_its_label(terraform):
    assert events.load(f"{terraform}#literal") == events.timer("hello")
    assert events.load(f"{terraform}#encoded_json") == {"bucket": "photos", "key": "a.png"}
    assert events.load(f"{terraform}#variable") == {"key": "value"}
    assert events.load(f"{terraform}#from_file") == events.dis(["from a file"])


def test_load_names_the_resources_a_file_has(terraform):
    with pytest.raises(ValueError, match="no test-event resource 'missing'; the file has: "
                                         "encoded_json, from_file, literal, plain_json, "
                                         "variable"):
        events.load(f"{terraform}#missing")
    with pytest.raises(ValueError, match=r"has 5 test-event resources .* say which with "
                                         r"'events.tf#NAME'"):
        events.load(terraform)


def test_load_refuses_content_that_is_not_base64_json(terraform, tmp_path):
    with pytest.raises(ValueError, match=r"plain_json: content is not base64.*base64encode"):
        events.load(f"{terraform}#plain_json")
    (tmp_path / "one").mkdir()
    single = write(tmp_path / "one", "main.tf", f"""
        resource "huaweicloud_fgs_function_event" "only" {{
          function_urn = "urn"
          name         = "only"
          content      = "{base64.b64encode(b'not json').decode()}"
        }}
        """)
    with pytest.raises(ValueError, match=r"huaweicloud_fgs_function_event\.only: the event is "
                                         r"not valid JSON"):
        events.load(single)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a file"):
        events.load(tmp_path / "missing.json")
    listed = write(tmp_path, "list.json", "[1, 2]")
    with pytest.raises(ValueError, match=r"is list .*not a JSON object"):
        events.load(listed)
    with pytest.raises(ValueError, match=r"#x names a Terraform resource"):
        events.load(f"{listed}#x")
    other = write(tmp_path, "event.yaml", "a: 1")
    with pytest.raises(ValueError, match=r"allowed: an event's JSON \(\.json\), a Terraform"):
        events.load(other)
    broken = write(tmp_path, "broken.tf", "resource {")
    with pytest.raises(ValueError, match=r"events\.load\(.*broken\.tf'\): .*not valid HCL"):
        events.load(broken)
