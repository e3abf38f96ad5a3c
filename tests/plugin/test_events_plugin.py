"""A user's suite sends trigger events from ``pytest_fginit.events`` to its function: the
handler receives the plain dict, in both isolation modes, and reads the fields as it would
on the platform."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

THUMBNAILER = """
import base64
import json
import os
from urllib.parse import unquote_plus


def handler(event, context):
    if "Records" in event:
        record = event["Records"][0]
        return {"bucket": record["s3"]["bucket"]["name"],
                "key": unquote_plus(record["s3"]["object"]["key"]),
                "size": record["s3"]["object"]["size"], "event": record["eventName"],
                "pid": os.getpid()}
    body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"]
    return {"statusCode": 201, "isBase64Encoded": False, "headers": {},
            "body": json.dumps({"method": event["httpMethod"], "got": json.loads(body)})}
"""

USERS_TEST = """
import json
import os

import pytest

from pytest_fginit import events


pytestmark = pytest.mark.fginit(code_root="fn")


@pytest.mark.parametrize("isolation", [
    pytest.param("inprocess", marks=pytest.mark.fginit(isolation="inprocess")),
    pytest.param("process", marks=pytest.mark.fginit(isolation="process")),
])
def test_an_upload_reaches_the_handler(fg_function, isolation):
    event = events.obs(bucket="photos", key="in/cat 1.png", size=2048,
                       event_name="ObjectCreated:Put")
    inv = fg_function.invoke(event)
    assert inv.ok, inv.error
    pid = inv.result.pop("pid")
    assert inv.result == {"bucket": "photos", "key": "in/cat 1.png", "size": 2048,
                          "event": "ObjectCreated:Put"}
    assert (pid != os.getpid()) == (isolation == "process")


def test_an_apig_request_reaches_the_handler(fg_function):
    inv = fg_function.invoke(events.apig("POST", "/users", body={"name": "Ada"}))
    assert inv.result["statusCode"] == 201
    assert json.loads(inv.result["body"]) == {"method": "POST", "got": {"name": "Ada"}}
"""


def test_a_users_test_sends_factory_events_to_its_function(pytester: pytest.Pytester):
    (pytester.path / "fn").mkdir()
    (pytester.path / "fn" / "index.py").write_text(textwrap.dedent(THUMBNAILER))
    pytester.makepyfile(test_thumbnails=textwrap.dedent(USERS_TEST))
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_an_upload_reaches_the_handler?inprocess? PASSED*",
                                 "*test_an_upload_reaches_the_handler?process? PASSED*"])
