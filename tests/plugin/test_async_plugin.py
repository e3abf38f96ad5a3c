"""Asynchronous requests as a pytest user meets them: configured by marker, retried on the
virtual clock, shown in a failed test's lifecycle timeline, never dropped silently."""

from __future__ import annotations

pytest_plugins = ["pytester"]

THUMBNAILER = """
PROCESSED = []

def handler(event, context):
    key = event["key"]
    if key.startswith("broken"):
        raise ValueError(f"cannot decode {key}")
    PROCESSED.append(key)
    return {"thumb": key + ".thumb.png"}
"""


def test_retries_and_destinations_from_the_marker_reach_the_timeline(project, function_source):
    function_source(THUMBNAILER)
    project.makepyfile(test_it="""
        import pytest

        FAILED = {"destination": "OBS", "param": '{"bucket": "thumbs", "prefix": "/failed"}'}

        @pytest.mark.fginit(code_root="fn", handler="index.handler", max_async_retry_attempts=2,
                            destination_config={"on_failure": FAILED})
        def test_broken_image(fg_function):
            request = fg_function.invoke_async({"key": "broken.png"})
            fg_function.drain()
            assert request.status == "SUCCESS"  # (it is not: the test fails, the report shows)

        @pytest.mark.fginit(code_root="fn", handler="index.handler")
        def test_left_in_the_queue(fg_function):
            fg_function.invoke_async({"key": "a.png"}, request_id="never-run")
            assert False
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*async request 00000000-0000-4000-a000-000000000001 accepted, queued",
        "*request 00000000-0000-4000-a000-000000000001: handler_error ValueError: cannot "
        "decode broken.png*",
        "*async request 00000000-0000-4000-a000-000000000001: attempt 1 failed, retry 1 of 2 "
        "in 60 s",
        "*+60.*s  request 00000000-0000-4000-a000-000000000001: handler_error*",
        "*attempt 2 failed, retry 2 of 2 in 120 s",
        "*+180.*s  request 00000000-0000-4000-a000-000000000001: handler_error*",
        "*async request 00000000-0000-4000-a000-000000000001 FAIL after 3 attempts",
        "*async request 00000000-0000-4000-a000-000000000001: record sent to OBS "
        "failed/00000000-0000-4000-a000-000000000001.json",
    ])
    result.stdout.fnmatch_lines([
        "*test_left_in_the_queue*",
        "*1 async request still queued (WAIT): never-run (next attempt at +0.*s)",
    ])


def test_a_bad_async_key_names_the_key_and_its_range(project):
    project.makepyfile(test_it="""
        import pytest

        @pytest.mark.fginit(code_root="fn", max_async_retry_attempts=5)
        def test_it(fg_function):
            pass
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*max_async_retry_attempts: 5 is out of range; allowed: a "
                                 "whole number from 0 to 3 (retries)*"])
