"""Rows 13a-13b: outside pytest. Warm requests through the local endpoint with Huawei Cloud's
SDK client, against the same calls in-process; and one cold ``fginit invoke`` in a new
process, against a fresh interpreter that imports the function by hand."""

from __future__ import annotations

import functools
import http.client
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest_fginit
from pytest_fginit import FunctionEmulator
from pytest_fginit.endpoint import new_secret_key, serve

from ..common import (
    EVENT,
    FUNCTION_DIR,
    PYCACHE,
    BenchError,
    Samples,
    bytecode,
    check_item,
    check_ok,
    now_ns,
)
from ..common import config as bench_config
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import fmt_ns, spread
from .process import FRESH_CODE

CLI_TARGET = 2.0
"""13b: a cold ``fginit invoke`` within 2x of the same work by hand in a fresh interpreter."""


def endpoint_calls(n: int, warmup: int) -> Samples:
    """``n`` warm ``invoke_function`` calls of the SDK's client, each timed, through the
    endpoint (signatures checked) in front of one started emulator."""
    from huaweicloudsdkfunctiongraph.v2 import InvokeFunctionRequest

    samples: Samples = []
    with bytecode(cached=True), FunctionEmulator(bench_config()) as fn, \
            serve(fn, ak="FGINITBENCH", sk=new_secret_key()) as endpoint:
        client, urn = endpoint.client(), endpoint.function_urn()
        for i in range(1 + warmup + n):  # (the first: the cold start)
            t0 = now_ns()
            answer = client.invoke_function(InvokeFunctionRequest(function_urn=urn,
                                                                  body=EVENT))
            elapsed = now_ns() - t0
            check_item(json.loads(answer.raw_content), "the endpoint")
            if i > warmup:
                samples.append(elapsed)
        check_ok(fn.invocations[1:], cold=False)
        if len(fn.invocations) != 1 + warmup + n:
            raise BenchError(f"{len(fn.invocations)} invocations for {1 + warmup + n} calls")
    return samples


def plain_http_calls(n: int, warmup: int) -> Samples:
    """For information: the same requests as plain ``http.client`` POSTs on one kept-alive
    connection, to an endpoint that checks no signature (what the SDK's side costs)."""
    samples: Samples = []
    body = json.dumps(EVENT).encode()
    with bytecode(cached=True), FunctionEmulator(bench_config()) as fn, serve(fn) as endpoint:
        path = (f"/v2/{endpoint.project_id}/fgs/functions/"
                f"{quote(endpoint.function_urn(), safe='')}/invocations")
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=30)
        try:
            for i in range(1 + warmup + n):
                t0 = now_ns()
                connection.request("POST", path, body=body,
                                   headers={"Content-Type": "application/json"})
                answer = connection.getresponse()
                content = answer.read()
                elapsed = now_ns() - t0
                check_item(json.loads(content), "the endpoint, over plain HTTP")
                if i > warmup:
                    samples.append(elapsed)
        finally:
            connection.close()
        check_ok(fn.invocations[1:], cold=False)
    return samples


def inprocess_calls(n: int, warmup: int) -> Samples:
    """The same ``n`` warm requests as `fn.invoke(event)`, each timed."""
    samples: Samples = []
    with bytecode(cached=True), FunctionEmulator(bench_config()) as fn:
        for i in range(1 + warmup + n):
            t0 = now_ns()
            fn.invoke(EVENT)
            elapsed = now_ns() - t0
            if i > warmup:
                samples.append(elapsed)
        check_ok(fn.invocations[1:], cold=False)
    return samples


def fginit_command() -> tuple[list[str], str]:
    """The console script next to this interpreter (what a user of the virtual environment
    types), or ``python -m pytest_fginit.cli`` (documented as the same command)."""
    script = Path(sys.executable).with_name("fginit")
    if script.is_file():
        return [str(script)], "the `fginit` console script"
    return [sys.executable, "-m", "pytest_fginit.cli"], "`python -m pytest_fginit.cli`"


INVOKE_ARGS = ["invoke", "--code-root", str(FUNCTION_DIR), "--handler", "index.handler",
               "--initializer-handler", "index.init", "-e", "-"]


def child_environment() -> dict[str, str]:
    """Both sides' children: bytecode read from a private cache (filled by the warm-up), and
    this run's pytest-fginit first on the path (the console script would import the
    installed one otherwise)."""
    env = {key: value for key, value in os.environ.items()
           if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE / "children")
    package_root = str(Path(pytest_fginit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_once(command: list[str], stdin: str, who: str) -> int:
    """One new process, timed from its start to its exit; its answer checked."""
    t0 = now_ns()
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False,
                          env=child_environment(), cwd=FUNCTION_DIR)
    elapsed = now_ns() - t0
    if done.returncode != 0:
        raise BenchError(f"{who}: exit status {done.returncode}: {done.stderr}")
    check_item(json.loads(done.stdout), who)
    return elapsed


def cold_processes(n: int, command: list[str], stdin: str, who: str) -> Samples:
    return [run_once(command, stdin, who) for _ in range(n)]


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no peer: the baselines are the emulator in-process and Python by hand)
    p = plan
    per_round = max(1, p.endpoint_requests // p.rounds)
    calls = interleave(p.rounds, {
        "endpoint": lambda: endpoint_calls(per_round, p.warmup * 5),
        "inprocess": lambda: inprocess_calls(per_round, p.warmup * 5),
        "plain_http": lambda: plain_http_calls(per_round, p.warmup * 5),
    }, "13a. endpoint        ")
    cli, cli_label = fginit_command()
    event = json.dumps(EVENT)
    sides: dict[str, tuple[list[str], str]] = {
        "fginit": (cli + INVOKE_ARGS, "fginit invoke"),
        "real_clock": ([*cli, *INVOKE_ARGS, "--virtual-time", "false"],
                       "fginit invoke --virtual-time false"),
        "by_hand": ([sys.executable, "-c", FRESH_CODE], "fresh interpreter"),
    }
    for command, who in sides.values():  # (fills the bytecode cache, both sides)
        run_once(command, event, who)
    cold = interleave(p.rounds, {
        key: functools.partial(cold_processes, p.cli_invokes, command, event, who)
        for key, (command, who) in sides.items()
    }, "13b. fginit invoke   ")
    rows = [
        Row("endpoint", "13a. warm invoke through the endpoint, SDK client", calls["endpoint"],
            "invoke() in-process", calls["inprocess"]),
        Row("cli", "13b. fginit invoke, one cold invoke", cold["fginit"],
            "fresh interpreter, by hand", cold["by_hand"], target=CLI_TARGET),
    ]
    return Section(rows, method(p, per_round, calls, cold, cli_label))


def _per_second(samples: Samples) -> str:
    return f"{1e9 / statistics.median(samples):,.0f}"


def method(plan: Plan, per_round: int, calls: dict[str, Samples], cold: dict[str, Samples],
           cli_label: str) -> str:
    real = statistics.median(cold["real_clock"])
    values: dict[str, Any] = {
        "calls": per_round, "rounds": plan.rounds, "warmup": plan.warmup * 5,
        "endpoint_spread": spread(calls["endpoint"], "µs"),
        "inprocess_spread": spread(calls["inprocess"], "µs"),
        "endpoint_rps": _per_second(calls["endpoint"]),
        "inprocess_rps": _per_second(calls["inprocess"]),
        "plain_http": f"{fmt_ns(statistics.median(calls['plain_http']), 'µs')} "
                      f"({spread(calls['plain_http'], 'µs')}; "
                      f"{_per_second(calls['plain_http'])} a second)",
        "cli_label": cli_label, "invokes": plan.cli_invokes,
        "fginit_spread": spread(cold["fginit"], "ms"),
        "by_hand_spread": spread(cold["by_hand"], "ms"),
        "real_clock": f"{fmt_ns(real, 'µs')} ({spread(cold['real_clock'], 'ms')}), "
                      f"{real / statistics.median(cold['by_hand']):.2f}x the baseline",
    }
    return render("outside", **values)
