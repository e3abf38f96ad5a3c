"""The context object as instance code gets it: every method of the reference's list, its
logger, its repr (the ``fg_context`` fixture's own context: tests/unit/test_fg_context.py)."""

from __future__ import annotations

import re

import pytest

CONTEXT_FUNCTION = """
def init(context):
    context.getLogger().info("init for %s", context.getFunctionName())

def handler(event, context):
    log = context.getLogger()
    log.debug("hidden at the default level")
    log.info("handling")
    log.warn("careful")
    log.error("bad")
    log.setLevel("DEBUG")
    log.debug("now shown")
    print("a plain print")
    return {
        "request_id": context.getRequestID(),
        "remaining": context.getRemainingTimeInMilliSeconds(),
        "ak": context.getAccessKey(), "sk": context.getSecretKey(),
        "sak": context.getSecurityAccessKey(), "ssk": context.getSecuritySecretKey(),
        "token": context.getSecurityToken(), "iam": context.getToken(),
        "db": context.getUserData("DB_URL"), "pw": context.getUserData("PASSWORD"),
        "missing": context.getUserData("NOPE", "fallback"),
        "name": context.getFunctionName(), "running": context.getRunningTimeInSeconds(),
        "version": context.getVersion(), "memory": context.getMemorySize(),
        "cpu": context.getCPUNumber(), "package": context.getPackage(),
        "project": context.getProjectID(), "alias": context.getAlias(),
    }
"""


def test_every_context_method_answers_from_the_configuration(emulate):
    fn = emulate(index=CONTEXT_FUNCTION, func_name="orders", timeout=30, memory_size=256,
                 user_data={"DB_URL": "pg://db"}, encrypted_user_data={"PASSWORD": "pw-123"},
                 access_key="AK-1", secret_key="SK-1", security_token="ST-1", token="IAM-1",
                 package="shop", project_id="p-1")
    inv = fn.invoke(request_id="req-1")
    assert inv.result == {
        "request_id": "req-1", "remaining": pytest.approx(30_000, abs=1000),
        "ak": "AK-1", "sk": "SK-1", "sak": "AK-1", "ssk": "SK-1", "token": "ST-1",
        "iam": "IAM-1", "db": "pg://db", "pw": "pw-123", "missing": "fallback",
        "name": "orders", "running": 30, "version": "latest", "memory": 256, "cpu": 400,
        "package": "shop", "project": "p-1", "alias": "",
    }


def test_logger_lines_are_framed_like_the_platform_and_land_in_the_invocation_log(emulate):
    fn = emulate(index=CONTEXT_FUNCTION)
    inv = fn.invoke(request_id="req-7")
    lines = inv.log.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"{stamp} req-7 INFO init for fn", lines[0])
    assert [line.split(" ", 2)[2] for line in lines[1:5]] == [
        "INFO handling", "WARN careful", "ERROR bad", "DEBUG now shown"]
    assert lines[5] == "a plain print"
    assert inv.init_attempts[0].log == lines[0] + "\n"
    assert "hidden" not in inv.log
    # A warm invocation's log holds only its own lines.
    assert "init for" not in fn.invoke().log


def test_the_initializers_remaining_time_counts_down_from_its_own_timeout(emulate):
    fn = emulate(index="""
        import time
        SEEN = {}
        def init(context):
            SEEN["start"] = context.getRemainingTimeInMilliSeconds()
            time.sleep(20)
            SEEN["after"] = context.getRemainingTimeInMilliSeconds()
            SEEN["running"] = context.getRunningTimeInSeconds()
        def handler(event, context):
            return SEEN
    """, initializer_timeout=120, timeout=5)
    seen = fn.invoke().result
    assert seen["start"] == pytest.approx(120_000, abs=1000)
    assert seen["after"] == pytest.approx(100_000, abs=1000)
    assert seen["running"] == 120


def test_secrets_stay_out_of_reprs(emulate):
    fn = emulate(index="""
        def init(context):
            context.getLogger().info("connecting with " + context.getUserData("PASSWORD"))
            raise PermissionError("login failed for password " + context.getUserData("PASSWORD"))
        def handler(event, context):
            return None
    """, encrypted_user_data={"PASSWORD": "hunter2-secret"}, security_token="tok-secret-9",
        init_retries=0)
    inv = fn.invoke()
    texts = [repr(inv), repr(inv.error), str(inv.error), inv.log, repr(fn.config),
             repr(inv.init_attempts[0]), "\n".join(inv.error.stack_trace)]
    for text in texts:
        assert "hunter2-secret" not in text and "tok-secret-9" not in text
    assert "login failed for password ******" in inv.error.message
    assert "connecting with ******" in inv.log


def test_secrets_are_masked_in_everything_instance_code_writes(emulate):
    fn = emulate(index="""
        import logging
        import sys
        def init(context):
            print("password is", context.getUserData("PASSWORD"))
            sys.stderr.write("stderr " + context.getSecurityToken() + "\\n")
            logging.getLogger("user").warning("logged %s", context.getUserData("PASSWORD"))
        def handler(event, context):
            return None
    """, encrypted_user_data={"PASSWORD": "hunter2-secret"}, security_token="tok-secret-9")
    log = fn.invoke().log
    assert "password is ******" in log
    assert "stderr ******" in log
    assert "WARNING user: logged ******" in log
    assert "hunter2-secret" not in log and "tok-secret-9" not in log


def test_secrets_shorter_than_four_characters_do_not_mangle_output(emulate):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            print("order 1001 for", context.getUserData("PW"))
            raise KeyError("user 1001")
    """, encrypted_user_data={"DEBUG": "1", "PW": "long-secret"})
    inv = fn.invoke()
    assert inv.error.message == "'user 1001'"
    assert inv.log == "order 1001 for ******\n"
    assert "index.py" in "\n".join(inv.error.stack_trace)


def test_with_two_emulators_open_a_log_line_is_collected_once_and_masked(emulate):
    source = """
        import logging
        def init(context):
            pass
        def handler(event, context):
            logging.getLogger("x").warning("pw=%s", context.getUserData("PW"))
    """
    outer = emulate(index=source)
    inner = emulate(index=source, encrypted_user_data={"PW": "hunter2-secret"})
    assert inner.invoke({}).log == "WARNING x: pw=******\n"
    assert outer.invoke({}).log == "WARNING x: pw=None\n"


def test_a_stream_kept_by_user_code_since_import_still_feeds_the_log(emulate):
    fn = emulate(index="""
        import logging
        import sys
        log = logging.getLogger("kept")
        log.addHandler(logging.StreamHandler(sys.stdout))
        log.setLevel(logging.INFO)
        log.propagate = False
        def init(context):
            log.info("from init")
        def handler(event, context):
            log.info("from handler")
    """)
    cold = fn.invoke({})
    assert cold.init_attempts[0].log == "from init\n"
    assert cold.handler_log == "from handler\n"
    assert fn.invoke({}).log == "from handler\n"


def test_secrets_stay_out_of_a_result_repr_and_config_comparisons(emulate, code):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            return context.getUserData("PW")
    """, encrypted_user_data={"PW": "hunter2-secret"})
    inv = fn.invoke({})
    assert inv.result == "hunter2-secret"  # the data itself is the caller's to see
    assert "hunter2-secret" not in repr(inv)
    fn.faults.handler.raises(ValueError("bad hunter2-secret"))
    assert "hunter2-secret" not in repr(fn.faults)
    fn.faults.clear()
    # Configurations that differ only in secrets compare equal: pytest's assertion diff of
    # two configurations never has a secret to show.
    config = fn.config
    assert config.replace(encrypted_user_data={"PW": "other-secret"}) == config


def test_a_time_zone_in_user_data_is_the_instances_local_time(emulate):
    fn = emulate(index="""
import time
def init(context):
    pass
def handler(event, context):
    return [time.tzname[0], time.timezone]  # (freezegun fakes localtime(), not these)
""", user_data={"TZ": "Asia/Tokyo"})
    assert fn.invoke().result == ["JST", -9 * 3600]
