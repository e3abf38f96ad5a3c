"""Process isolation at suite scale: what the fork server and the instances do per start and
per exit does not grow with how many instances there are, and what a spare prepares ahead is
what the instance would have done itself."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import ClassVar

import pytest

from pytest_fginit._hosts.process import client as forkserver

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process isolation: Linux")

# Runs in a fresh interpreter: a fork server's `_Server` forks spares there, and the script
# counts the server's looks at all of its children (a listing of /proc/self/task).
_COUNT_SCANS = """
import os, socket, sys, time
from pytest_fginit._hosts.process import server as srv
from pytest_fginit._hosts.process.wire import Channel

scans = 0
listdir = os.listdir
def counting_listdir(path="."):
    global scans
    if path == "/proc/self/task" and os.getpid() == me:
        scans += 1
    return listdir(path)
os.listdir = counting_listdir
me = os.getpid()
ours, theirs = socket.socketpair()
server = srv._Server(Channel(theirs), ())
test_side = Channel(ours)
spares = []
for _ in range({count}):
    server.fork_spare()
    message, fds = test_side.recv_with_fds()
    spares.append(socket.socket(fileno=fds[0]))
for spare in spares:
    spare.close()  # (a spare that is never needed ends when its socket closes)
limit = time.monotonic() + 30
while server.live and time.monotonic() < limit:
    server.reap()
    time.sleep(0.005)
print(len(server.live), scans)
"""


def test_instances_that_end_leaving_nothing_cost_the_fork_server_no_look_at_its_children():
    script = textwrap.dedent(_COUNT_SCANS).format(count=20)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    left, scans = map(int, done.stdout.split())
    assert left == 0  # every spare was reaped ...
    assert scans == 0  # ... without a look at every child at each exit (O(k²) for k)


# --- what a start sends ----------------------------------------------------------------------

WHERE_AM_I = """
import logging, os, sys

def handler(event, context):
    return {"cwd": os.getcwd(), "lang": os.environ.get("LANG"), "path": sys.path[1:],
            "level": logging.getLogger().getEffectiveLevel()}
"""


class _Recording(forkserver.Channel):
    """The client's channel, keeping the requests it sends to spares."""

    sent: ClassVar[list[dict]] = []

    def send(self, message, fds=(), *, reading=None):
        if message[0] == "request":
            _Recording.sent.append(message[1])
        super().send(message, fds, reading=reading)


def test_a_start_sends_a_spare_none_of_the_process_state_it_was_forked_with(run, monkeypatch):
    fn = run(WHERE_AM_I)
    monkeypatch.setattr(forkserver, "Channel", _Recording)
    _Recording.sent = []
    for _ in range(3):
        assert fn.invoke().ok
        fn.recycle()  # (the next request is a cold start, on the next spare)
    # The spare that was ready before this test's base was told to the server gets it in its
    # request; those forked after have it from the server: their requests carry none of it.
    assert [request["base"] is None for request in _Recording.sent][1:] == [True, True]
    assert all("env" not in request for request in _Recording.sent)


def test_a_spare_forked_before_the_process_state_changed_takes_the_new_one_on(
        run, monkeypatch, tmp_path):
    fn = run(WHERE_AM_I)
    first = fn.invoke().result
    fn.recycle()  # (the next spare was forked with the state as it was)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        second = fn.invoke().result
        fn.recycle()
        third = fn.invoke().result  # (a spare forked after the server took the new state on)
    finally:
        logging.getLogger().setLevel(level)
    for seen in (second, third):
        assert seen["cwd"] == str(tmp_path) != first["cwd"]
        assert seen["lang"] == "fr_FR.UTF-8"
        assert seen["path"][0] == str(tmp_path / "lib")
        assert seen["level"] == logging.ERROR


def test_what_a_spare_rehearses_ahead_leaves_no_trace_in_the_instance(run):
    fn = run("""
import sys

def handler(event, context):
    folder = [p for p in sys.path if p.endswith("_hosts/process")]
    cached = [p for p in sys.path_importer_cache if str(p).endswith("_hosts/process")]
    return {"module": "__init__" in sys.modules, "path": folder, "cached": cached}
""")
    assert fn.invoke().result == {"module": False, "path": [], "cached": []}
