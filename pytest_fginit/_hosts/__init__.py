"""How user code runs: hosts that load an instance's code and run its phases. They know no
platform rule, no configuration and no records. [test process]

`open_host` picks the host for an isolation mode, once per emulator (process isolation is
imported only when a function uses it).
"""

from __future__ import annotations

from .._clock import Clock
from .._redaction import Redactor
from .instance_setup import check_instance_setup
from .protocol import InstanceHost

__all__ = ["check_instance_setup", "open_host"]


def open_host(isolation: str, clock: Clock, *, real_time_limit: float | None,
              redact: Redactor, memory_size: int, inherit_env: bool,
              secrets: tuple[str, ...]) -> InstanceHost:
    """The host for ``isolation`` (``"inprocess"`` or ``"process"``), not opened yet."""
    if isolation == "process":
        from .process.host import ProcessHost  # (brings the fork server's client)

        return ProcessHost(clock, real_time_limit=real_time_limit, redact=redact,
                           memory_size=memory_size, inherit_env=inherit_env, secrets=secrets)
    from .inprocess.host import InProcessHost

    return InProcessHost(clock, real_time_limit=real_time_limit, redact=redact)
