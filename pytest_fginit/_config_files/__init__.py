"""Reading a function's configuration from the files it is deployed with. [test process]

Three formats, each mapped onto `FunctionConfig`'s keys (reference, section 5), one module
each:

* `api_json`: the FunctionGraph API's function JSON (a ShowFunctionConfig answer or a
  CreateFunction body);
* `terraform`: a ``huaweicloud_fgs_function`` resource (or one of its siblings with the same
  fields, `terraform.FUNCTION_TYPES`), parsed with python-hcl2, its values worked out by
  `hcl_eval` (literals, variables and variable files, locals, templates, a few functions);
* `serverless`: Serverless Devs' ``s.yaml`` (component ``fgs``, under ``props.function``).

Keys the emulator does not use are accepted and ignored, and so are the keys the caller gives
(``overridden``): neither is worked out, so neither can be an error. The code root is what
the file says (``s.yaml``'s ``code.codeUri``), else the file's folder. Parsed files are kept
for the session (`common.parsed`).

This package only reads: it gives raw keys. Checking and normalising them is `config`'s job
(`_config_sources.fields_from_file`), so that this leaf imports nothing of the package but `errors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import FunctionConfigError
from .api_json import from_api_json
from .common import cache_info, clear_cache, kept_answer, use_store
from .serverless import from_serverless
from .terraform import FUNCTION_TYPES, from_terraform

__all__ = ["FUNCTION_TYPES", "cache_info", "clear_cache", "read_deployment", "split_name",
           "use_store"]


def split_name(path: str | Path, resource: str | None = None) -> tuple[Path, str | None]:
    """``main.tf#orders`` → (``main.tf``, ``"orders"``). A path that exists as written is
    taken whole (``/tmp/a#b/main.tf``); a name given both ways must agree."""
    text = str(path)
    name: str | None = None
    if "#" in text and not Path(text).exists():
        head, _, tail = text.rpartition("#")
        if tail and "/" not in tail and "\\" not in tail:
            text, name = head, tail
    if name is not None and resource is not None and name != resource:
        raise FunctionConfigError(
            "resource", f"{resource!r} disagrees with the #{name} of {str(path)!r}; give the "
                        "function's name one way")
    return Path(text), resource if resource is not None else name


def read_deployment(path: str | Path, resource: str | None = None, *,
                    var_files: Iterable[str | Path] = (),
                    overridden: Iterable[str] = ()) -> dict[str, Any]:
    """The configuration keys ``path`` gives, as written, with ``code_root``.

    ``resource`` (or ``path#name``): which function, when the file deploys several.
    ``var_files``: Terraform variable files to load after the ones Terraform loads itself.
    ``overridden``: the keys the caller gives, which are left out (and never worked out).

    The answer is kept while the files it was worked out from are unchanged: a suite that
    names one file in its ini asks the same question at every test (a few ``stat`` calls,
    not the folder's globs and the expressions' evaluation again).
    """
    key = (os.path.abspath(path), resource, tuple(os.path.abspath(f) for f in var_files),
           frozenset(overridden))
    return kept_answer(key, lambda: _read(path, resource, var_files, overridden))


def _read(path: str | Path, resource: str | None, var_files: Iterable[str | Path],
          overridden: Iterable[str]) -> dict[str, Any]:
    path, resource = split_name(path, resource)
    skip = frozenset(overridden)
    named = [Path(f) for f in var_files]
    if not path.is_file():
        raise FunctionConfigError("config", f"{str(path)!r} is not a file")
    name = path.name.lower()
    if named and not name.endswith(".tf"):
        raise FunctionConfigError("config_var_files", "variable files are Terraform's; "
                                                      f"{str(path)!r} is not a .tf file")
    if name.endswith(".json"):
        fields = from_api_json(path, skip)
    elif name.endswith(".tf"):
        fields = from_terraform(path, resource, named, skip)
    elif name.endswith((".yaml", ".yml")):
        fields = from_serverless(path, resource, skip)
    else:
        raise FunctionConfigError(
            "config", f"{str(path)!r}: not a deployment file this reads; allowed: the API's "
                      "function JSON (.json), Terraform (.tf), Serverless Devs (s.yaml)")
    if "code_root" not in skip:
        fields.setdefault("code_root", path.parent)
    return fields
