"""`hygiene.ProcessState` read at C speed: what the fast comparisons could miss is given back.

The snapshot compares ``os.environ``'s encoded copy, builtins by identity and loggers in one
step, and only on a difference walks the slow way: these are the differences a fast compare
could get wrong (undecodable values, an object equal to everything, a logger created since).
"""

from __future__ import annotations

import builtins
import logging
import os
import signal

from pytest_fginit._hosts.inprocess.hygiene import ProcessState


class _EqualToAll:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


def test_the_environment_comes_back_undecodable_values_included(monkeypatch):
    monkeypatch.setenv("FGINIT_KEPT", "kept")
    monkeypatch.setenv("FGINIT_GONE_LATER", "here")
    before = dict(os.environ)
    state = ProcessState()
    os.environ["FGINIT_NEW"] = "\udcff-undecodable"
    os.environ["FGINIT_KEPT"] = "changed \u00e9"
    del os.environ["FGINIT_GONE_LATER"]
    os.environ["FGINIT_NEW_\udcfe"] = "x"
    state.restore([])
    assert dict(os.environ) == before
    assert state.environ == before


def test_a_builtin_replaced_by_an_equal_object_is_given_back():
    real_ascii = builtins.ascii
    state = ProcessState()
    builtins.ascii = _EqualToAll()  # type: ignore[assignment]
    builtins.fginit_added = 1  # type: ignore[attr-defined]
    try:
        state.restore([])
        assert builtins.ascii is real_ascii
        assert not hasattr(builtins, "fginit_added")
    finally:
        builtins.ascii = real_ascii


def test_loggers_come_back_a_new_one_too():
    named = logging.getLogger("fginit.snapshot.named")
    state = ProcessState()
    handler = logging.NullHandler()
    named.addHandler(handler)
    named.setLevel(logging.ERROR)
    named.propagate = False
    created = logging.getLogger("fginit.snapshot.created")
    created.setLevel(logging.DEBUG)
    created.addHandler(handler)
    state.restore([])
    assert handler not in named.handlers and handler not in created.handlers
    assert named.level == logging.NOTSET and named.propagate
    assert created.level == logging.NOTSET


def test_a_signal_handler_comes_back():
    before = signal.getsignal(signal.SIGUSR1)
    state = ProcessState()
    signal.signal(signal.SIGUSR1, lambda *_: None)
    state.restore([])
    assert signal.getsignal(signal.SIGUSR1) == before
