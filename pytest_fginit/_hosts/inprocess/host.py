"""`InProcessHost`: every instance in the test process, each in its own module namespace.
[test process]

The host knows nothing of the platform's rules (retries, states, billing): the control plane
asks it to load an instance's code, run a phase before a deadline, and stop the instance; the
host answers with a `PhaseOutcome`. The handlers of requests that share an instance run on their
own threads, side by side; a `Watchdog` thread stops a phase that passes its deadline.

What the instances change in the process is given back when the last open host closes
(`hygiene`), and what they leave running is reported at each host's close (`leftovers`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..._clock import Clock
from ..._redaction import Redactor, no_redaction
from ..protocol import InstanceSpec
from . import leftovers
from .deadline import Watchdog
from .hygiene import LAYERS
from .namespace import IsolatedNamespace, code_root_names
from .patches import EXIT_GUARD, LOG_HANDLER, MASKING, SLEEP, Patch, StreamTees
from .phase import CodeInstance, PhaseRunner


class InProcessHost:
    """Runs every instance in this process (see the module's docstring)."""

    serves_side_by_side = True

    def __init__(self, clock: Clock, *, real_time_limit: float | None = None,
                 redact: Redactor = no_redaction) -> None:
        self._redact = redact
        self._watchdog = Watchdog(real_time_limit)
        self._runner = PhaseRunner(clock, self._watchdog, redact=redact, tees=StreamTees())
        self._open = False
        self._patched: list[Patch] = []
        self._function = "the function"  # (named by its first instance's entry)

    def open(self, environment: Mapping[str, str]) -> None:
        """Set the instances' environment and clocks up, for as long as the host is open.

        [assumption] every instance of one function has the same environment, so it is set
        once for the host's life rather than switched per call.
        """
        if self._open:
            return
        self._open = True
        try:
            LAYERS.enter(self, environment)
            for patch in (SLEEP, LOG_HANDLER, EXIT_GUARD, leftovers.WATCH):
                patch.acquire()
                self._patched.append(patch)
            MASKING.add(self._redact)  # (what any thread logs, warns, prints while open)
            self._watchdog.start()
        except BaseException:
            self.close()  # undo whatever was done
            raise

    def close(self) -> None:
        """Undo `open`: the patches, the environment this host set (and, if it is the last
        in-process host open, whatever else the instances changed in the process)."""
        if not self._open:
            return
        self._open = False
        self._runner.forget()
        try:
            leftovers.report(self._watchdog, self._function)
        finally:
            while self._patched:
                self._patched.pop().release()
            MASKING.discard(self._redact)
            self._watchdog.close()
            LAYERS.leave(self)

    def abort(self) -> None:
        self._watchdog.abort()

    def resume(self) -> None:
        self._watchdog.resume()

    def start_instance(self, spec: InstanceSpec) -> CodeInstance:
        self._function = f"{spec.handler_module}.{spec.handler_function}"
        namespace = IsolatedNamespace(spec.code_root, code_root_names(spec.code_root),
                                      LAYERS.imported)
        return CodeInstance(self._runner, spec, namespace, self._redact)
