"""Process isolation at suite scale: what the fork server and the instances do per start and
per exit does not grow with how many instances there are, and what a spare prepares ahead is
what the instance would have done itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

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
