"""`InProcessHost`: every instance in the test process, each in its own module namespace.
[test process]

The host knows nothing of the platform's rules (retries, states, billing): the control plane
asks it to load an instance's code, run a phase before a deadline, and stop the instance; the
host answers with a `PhaseOutcome`. The handlers of requests that share an instance run on their
own threads, side by side; a `Watchdog` thread stops a phase that passes its deadline.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..._clock import Clock
from ..._redaction import Redactor, no_redaction
from ..protocol import InstanceSpec
from .deadline import Watchdog
from .namespace import IsolatedNamespace, code_root_names
from .patches import (
    EXIT_GUARD,
    LOG_HANDLER,
    MASKING,
    SLEEP,
    Patch,
    StreamTees,
    restore_environment,
    set_environment,
)
from .phase import CodeInstance, PhaseRunner


class InProcessHost:
    """Runs every instance in this process (see the module's docstring)."""

    serves_side_by_side = True

    def __init__(self, clock: Clock, *, real_time_limit: float | None = None,
                 redact: Redactor = no_redaction) -> None:
        self._redact = redact
        self._watchdog = Watchdog(real_time_limit)
        self._runner = PhaseRunner(clock, self._watchdog, redact=redact, tees=StreamTees())
        self._saved_env: dict[str, str] | None = None
        self._patched: list[Patch] = []

    def open(self, environment: Mapping[str, str]) -> None:
        """Set the instances' environment and clocks up, for as long as the host is open.

        [assumption] every instance of one function has the same environment, so it is set
        once for the host's life rather than switched per call.
        """
        if self._saved_env is not None:
            return
        try:
            self._saved_env = set_environment(environment)
            for patch in (SLEEP, LOG_HANDLER, EXIT_GUARD):
                patch.acquire()
                self._patched.append(patch)
            MASKING.add(self._redact)  # (what any thread logs, warns, prints while open)
            self._watchdog.start()
        except BaseException:
            self.close()  # undo whatever was done
            raise

    def close(self) -> None:
        saved, self._saved_env = self._saved_env, None
        if saved is None:
            return
        self._runner.forget()
        while self._patched:
            self._patched.pop().release()
        MASKING.discard(self._redact)
        self._watchdog.close()
        restore_environment(saved)

    def abort(self) -> None:
        self._watchdog.abort()

    def resume(self) -> None:
        self._watchdog.resume()

    def start_instance(self, spec: InstanceSpec) -> CodeInstance:
        namespace = IsolatedNamespace(spec.code_root, code_root_names(spec.code_root))
        return CodeInstance(self._runner, spec, namespace, self._redact)
