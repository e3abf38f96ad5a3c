"""The pool's one table of instance states: what it lists is allowed, anything else raises."""

from __future__ import annotations

from typing import get_args

import pytest

from pytest_fginit._platform.pool import _TRANSITIONS, IllegalTransition, check_transition
from pytest_fginit.records import InstanceState

ALLOWED = {
    ("initializing", "ready"), ("initializing", "failed"), ("initializing", "recycled"),
    ("initializing", "killed"),
    ("ready", "killed"), ("ready", "recycled"), ("ready", "reclaimed"),
}
STATES = get_args(InstanceState)


def test_the_table_covers_every_state():
    assert set(_TRANSITIONS) == set(STATES)


@pytest.mark.parametrize(("previous", "state"), sorted(ALLOWED))
def test_a_listed_transition_is_allowed(previous, state):
    check_transition(previous, state)


@pytest.mark.parametrize(("previous", "state"), sorted(
    (p, s) for p in STATES for s in STATES if (p, s) not in ALLOWED))
def test_a_transition_the_table_does_not_list_raises(previous, state):
    with pytest.raises(IllegalTransition, match=f"from {previous!r} to {state!r}"):
        check_transition(previous, state)


def test_the_pool_refuses_it_and_leaves_the_instance_as_it_was():
    from pytest_fginit._clock import RealClock
    from pytest_fginit._platform.pool import InstancePool
    from pytest_fginit._redaction import no_redaction
    from pytest_fginit.faults import Faults
    from pytest_fginit.records import Instance

    journal: list = []
    pool = InstancePool(RealClock(), Faults(has_initializer=False, has_pre_stop=False,
                                            redact=no_redaction), journal, (), no_redaction)
    instance = Instance(id="instance-1", created_at=0.0, state="reclaimed")
    with pytest.raises(IllegalTransition):
        pool.set_state(instance, "ready")
    assert instance.state == "reclaimed" and not pool.ready and not journal
