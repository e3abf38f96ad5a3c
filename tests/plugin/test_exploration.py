"""Exploring fault schedules with Hypothesis: ``fg_emulator`` gives each example a fresh
emulator, ``fn.run(schedule)`` applies one, and a failing example shrinks to a minimal
schedule that the failure report prints as numbered steps and as a test (issue 15)."""

from __future__ import annotations

import pytest

from pytest_fginit import Schedule, Step
from pytest_fginit.strategies import schedules

pytest_plugins = ["pytester"]

# Records an order in a ledger outside the instance (a file), then does slow work: past the
# 3 s timeout the platform retries an asynchronous request, and the order is counted twice.
LEDGER = """
import json, os, time

def handler(event, context):
    path = context.getUserData("LEDGER")
    ledger = json.load(open(path)) if os.path.exists(path) else {}
    ledger[event["order"]] = ledger.get(event["order"], 0) + 1
    with open(path, "w") as file:
        json.dump(ledger, file)
    time.sleep(event["work"])
    return ledger[event["order"]]
"""

EXPLORATION = """
import collections, json, os, tempfile, uuid

import pytest
from hypothesis import given, settings, strategies as st

from pytest_fginit.strategies import schedules

ORDERS = st.fixed_dictionaries({"order": st.sampled_from(["o1", "o2"]),
                                "work": st.sampled_from([0, 5])})


@pytest.mark.fginit(code_root="fn", max_async_retry_attempts=1)
@settings(max_examples=60, deadline=None)
@given(schedule=schedules(events=ORDERS, kinds=["invoke", "async", "advance"]))
def test_each_order_is_recorded_as_often_as_it_was_sent(fg_emulator, schedule):
    ledger = os.path.join(tempfile.gettempdir(), f"ledger-{uuid.uuid4().hex}.json")
    with fg_emulator(user_data={"LEDGER": ledger}) as fn:  # (closed as the example ends)
        fn.run(schedule)
    counts = json.load(open(ledger)) if os.path.exists(ledger) else {}
    sent = collections.Counter(e["order"] for step in schedule.steps for e in step.events)
    assert counts == dict(sent)
"""


def test_an_idempotency_bug_is_found_and_shrunk_to_its_schedule(project, function_source):
    function_source(LEDGER)
    project.makepyfile(test_orders=EXPLORATION)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- fginit schedule -*",
        "1. an asynchronous request {'order': 'o1', 'work': 5}",
        "2. the asynchronous queue is drained",
        "As a test:",
        "def test_this_schedule(fg_function):",
        "    fn = fg_function",
        "    fn.invoke_async({'order': 'o1', 'work': 5})",
        "    fn.drain()",
    ])
    result.stdout.fnmatch_lines([
        "*- fginit lifecycle -*",
        "*async request * attempt 1 failed, retry 1 of 1 in 60 s",
    ])


def test_a_schedule_reads_as_steps_and_as_code():
    schedule = Schedule([Step("fault", phase="initializer", fault="raises"),
                         Step("invoke", ({"user": 7},)), Step("advance", seconds=61.0),
                         Step("burst", ({}, {}))])
    assert schedule.describe().splitlines() == [
        "1. initializer raises ConnectionError on the next instance",
        "2. invoke {'user': 7}",
        "3. the clock moves 61 s",
        "4. 2 requests at once: {}, {}",
    ]
    assert 'fn.faults.initializer.raises(ConnectionError("injected by the schedule"))' in (
        schedule.as_code())


@pytest.mark.parametrize(("arguments", "says"), [
    ({"min_steps": 5, "max_steps": 2}, "min_steps (5) must be from 0 to max_steps (2)"),
    ({"kinds": ["invoke", "teleport"]}, "kinds: 'teleport' is not one of invoke"),
    ({"phases": ["init"]}, "phases: 'init' is not one of initializer, handler, pre_stop"),
    ({"kinds": ["burst"], "max_burst": 1}, "max_burst (1) must be at least 2"),
    ({"kinds": ["fault"], "faults": []}, "'fault' steps need at least one phase and one fault"),
])
def test_contradictory_bounds_say_which(arguments, says):
    with pytest.raises(ValueError, match=None) as raised:
        schedules(**arguments)
    assert says in str(raised.value)
