"""Row 8: what masking secrets costs a handler that logs 10,000 lines, in-process: the same
handler on an emulator with secrets configured (masking on) against one without (masking off).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from pytest_fginit import FunctionConfig, FunctionEmulator

from ..common import BenchError, Samples, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread

LINES = 10_000  # per request: half through context.getLogger(), half through logging

HANDLER = f"""
import logging

log = logging.getLogger("bench")

def init(context):
    pass

def handler(event, context):
    logger = context.getLogger()
    for i in range({LINES // 2}):
        logger.info("line %d of the report: %s", i, event["order"])
        log.warning("line %d of the audit: %s", i, event["order"])
    return {{"lines": {LINES}}}
"""

SECRETS: dict[str, Any] = {"encrypted_user_data": {"DB_PASSWORD": "bench-db-password-7f3a",
                                   "API_KEY": "bench-api-key-Zq9x"},
           "access_key": "BENCHACCESSKEY0001", "secret_key": "bench-secret-key-0001",
           "security_token": "bench-security-token-0001", "token": "bench-iam-token-0001"}
EVENT = {"order": "order-1234 for customer 42"}


def _code_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fginit-bench-masking-"))
    (root / "index.py").write_text(textwrap.dedent(HANDLER), encoding="utf-8")
    return root


def run_logging_handler(root: Path, n: int, masked: bool) -> Samples:
    """``n`` warm requests, each one sample; the function's output goes to ``os.devnull``."""
    config = FunctionConfig(code_root=root, handler="index.handler",
                            initializer_handler="index.init", func_name="bench",
                            **(SECRETS if masked else {}))
    samples: Samples = []
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink), FunctionEmulator(config) as fn:
        fn.invoke(EVENT)  # the cold start, outside the samples
        for _ in range(n):
            t0 = now_ns()
            inv = fn.invoke(EVENT)
            samples.append(now_ns() - t0)
            if not inv.ok or inv.log.count("\n") != LINES:
                raise BenchError(f"unexpected invocation: {inv!r}, "
                                 f"{inv.log.count(chr(10))} lines logged")
    return samples


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    root = _code_root()
    try:
        sides = interleave(p.rounds, {
            "ours": lambda: run_logging_handler(root, p.masking_requests, masked=True),
            "theirs": lambda: run_logging_handler(root, p.masking_requests, masked=False),
        }, "8. masking secrets   ")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    row = Row("masking", f"8. {LINES:,} log lines, secrets masked", sides["ours"],
              "the same, no secrets", sides["theirs"], kind="slowdown", target=1.2)
    method = render("masking", lines=f"{LINES:,}", half=f"{LINES // 2:,}",
                    secrets=len(SECRETS) + len(SECRETS["encrypted_user_data"]) - 1,
                    samples=p.masking_requests, rounds=p.rounds,
                    ours_spread=spread(sides["ours"], "ms"),
                    theirs_spread=spread(sides["theirs"], "ms"))
    return Section([row], method)
