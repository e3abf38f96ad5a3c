"""The ``fg_context`` fixture's Context for plain unit tests of a handler: what it answers,
its clock, its validation, its logger and its masking (no emulator involved)."""

from __future__ import annotations

import pytest


def test_fg_context_builds_a_context_for_unit_tests(fg_context):
    context = fg_context(func_name="f", user_data={"A": "1"}, encrypted_user_data={"B": "2"},
                         timeout=5, memory_size=512, request_id="r-1")
    assert context.getFunctionName() == "f"
    assert context.getUserData("A") == "1" and context.getUserData("B") == "2"
    assert context.getRunningTimeInSeconds() == 5 and context.getMemorySize() == 512
    assert context.getRequestID() == "r-1"
    assert 0 < context.getRemainingTimeInMilliSeconds() <= 5000
    assert "'2'" not in repr(context) and "'B'" in repr(context)


def test_fg_context_remaining_time_follows_a_frozen_clock(fg_context):
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2026-01-01 00:00:00") as frozen:
        context = fg_context(timeout=10)
        frozen.tick(4)
        assert context.getRemainingTimeInMilliSeconds() == 6000
        frozen.tick(20)
        assert context.getRemainingTimeInMilliSeconds() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"timeout": 1}, "timeout: 1 is out of range"),
     ({"memory_size": 100}, "memory_size: 100 is not a FunctionGraph memory size"),
     ({"user_data": {"A": 1}}, "user_data: entry 'A'")],
)
def test_fg_context_validates_like_the_platform(fg_context, fields, message):
    with pytest.raises(ValueError, match=message):
        fg_context(**fields)


def test_logger_level_must_be_known(fg_context):
    with pytest.raises(ValueError, match="allowed: DEBUG, ERROR, INFO, WARN, WARNING"):
        fg_context().getLogger().setLevel("LOUD")


def test_fg_context_logger_masks_its_secrets(fg_context, capsys):
    context = fg_context(encrypted_user_data={"PW": "pw-secret-1"}, security_token="tok-2")
    context.getLogger().info("pw=%s token=%s", context.getUserData("PW"),
                             context.getSecurityToken())
    out = capsys.readouterr().out
    assert out.endswith("INFO pw=****** token=******\n")


def test_fg_context_names_an_unknown_field_and_the_allowed_ones(fg_context):
    with pytest.raises(TypeError, match=r"unknown field 'memory'; allowed: request_id, .*alias"):
        fg_context(memory=512)
    context = fg_context(package="shop", alias="prod", version="v2", project_id="p")
    assert (context.getPackage(), context.getAlias(), context.getVersion(),
            context.getProjectID()) == ("shop", "prod", "v2", "p")
