"""python-lambda-local, the peer of rows 2 and 4a: imported quietly, and its ``call()``
measured."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .common import EVENT, BenchError, Samples, check_item, now_ns


@dataclass
class LambdaLocal:
    call: Callable[..., Any]
    context: Callable[[int], Any]
    version: str
    runner: Callable[..., Any]  # main._runner: what call() and the CLI's run() both go through
    loader: Callable[..., Any]  # main.FunctionLoader


def import_lambda_local() -> LambdaLocal:
    """``lambda_local.main`` and ``lambda_local.context``, quietly.

    ``lambda_local/__init__.py`` binds a *function* named ``main`` that shadows the submodule
    (so ``import lambda_local.main as m`` gives the function): go through ``import_module``.
    Importing ``lambda_local.main`` runs ``logging.basicConfig(stream=sys.stdout, level=INFO)``
    and every ``call()`` logs five INFO lines; the handler it adds writes to ``os.devnull``
    here, so the formatting cost stays in the measurement but the terminal stays readable.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
            main = importlib.import_module("lambda_local.main")
            context = importlib.import_module("lambda_local.context")
    except ImportError as exc:
        sys.exit(
            "bench/run.py: python-lambda-local is not installed, and the warm-invoke row "
            "compares against it.\n"
            "  Install it with:  pip install -e '.[test]'   (or: pip install "
            f"'python-lambda-local==0.1.13')\n  ({type(exc).__name__}: {exc})"
        )
    devnull = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    for handler in root.handlers:
        if handler not in before and isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    return LambdaLocal(main.call, context.Context,
                       importlib.metadata.version("python-lambda-local"),
                       main._runner, main.FunctionLoader)


def theirs_call(ll: LambdaLocal, module: Any, n: int, warmup: int) -> Samples:
    """python-lambda-local's call() on ``module``'s handler (loaded, initialized or not)."""
    samples: Samples = []
    for i in range(warmup + n):
        context = ll.context(3)
        t0 = now_ns()
        result, err_type = ll.call(module.handler, EVENT, context)
        elapsed = now_ns() - t0
        if err_type is not None:
            raise BenchError(f"python-lambda-local: unexpected result {result!r}")
        check_item(result, "python-lambda-local call()")
        if i >= warmup:
            samples.append(elapsed)
    return samples

