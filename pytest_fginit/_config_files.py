"""Reading a function's configuration from the files it is deployed with. [test process]

Three formats, each mapped onto `FunctionConfig`'s keys (reference, section 5):

* the FunctionGraph API's function JSON (a ShowFunctionConfig answer or a CreateFunction body);
* Terraform: a ``huaweicloud_fgs_function`` resource (parsed with python-hcl2). Values may be
  literals, ``var.x`` with a ``default`` in the folder's ``variable`` blocks, and
  ``jsonencode({...})`` of those; anything else cannot be known without Terraform, and is an
  error naming it;
* Serverless Devs' ``s.yaml`` (component ``fgs``, under ``props.function``).

Keys the emulator does not use are accepted and ignored. The code root is what the file says
(``s.yaml``'s ``code.codeUri``), else the file's folder; the caller's keys override all.

This module only reads: it gives raw keys. Checking and normalising them is `config`'s job
(`config.fields_from_file`), so that this leaf imports nothing of the package but `errors`.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import FunctionConfigError

_API_KEYS = {
    "func_name": "func_name", "runtime": "runtime", "handler": "handler",
    "timeout": "timeout", "memory_size": "memory_size", "user_data": "user_data",
    "encrypted_user_data": "encrypted_user_data", "initializer_handler": "initializer_handler",
    "initializer_timeout": "initializer_timeout", "package": "package",
    "pre_stop_handler": "pre_stop_handler", "pre_stop_timeout": "pre_stop_timeout",
}
_API_STRATEGY_KEYS = {"concurrency": "max_instance_num", "concurrent_num": "concurrency_num"}
"""The keys of the API's ``strategy_config``."""
_TERRAFORM_KEYS = {
    "name": "func_name", "runtime": "runtime", "handler": "handler", "timeout": "timeout",
    "memory_size": "memory_size", "user_data": "user_data",
    "encrypted_user_data": "encrypted_user_data", "initializer_handler": "initializer_handler",
    "initializer_timeout": "initializer_timeout", "app": "package",
    "pre_stop_handler": "pre_stop_handler", "pre_stop_timeout": "pre_stop_timeout",
    "max_instance_num": "max_instance_num", "concurrency_num": "concurrency_num",
    "reserved_instances": "reserved_instances",
}
_SERVERLESS_KEYS = {
    "functionName": "func_name", "runtime": "runtime", "handler": "handler",
    "timeout": "timeout", "memorySize": "memory_size", "initializerHandler":
    "initializer_handler", "initializerTimeout": "initializer_timeout",
    "environmentVariables": "user_data", "userData": "user_data",
    "preStopHandler": "pre_stop_handler", "preStopTimeout": "pre_stop_timeout",
    "concurrency": "max_instance_num", "concurrentNum": "concurrency_num",
}
_UNSET = {"user_data": "", "encrypted_user_data": "", "initializer_handler": "",
          "initializer_timeout": 0, "pre_stop_handler": "", "pre_stop_timeout": 0}
"""What the API sends for a key that is not set (ShowFunctionConfig answers with these)."""
_WHOLE_NUMBERS = ("timeout", "memory_size", "initializer_timeout", "pre_stop_timeout",
                  "max_instance_num", "concurrency_num")
_WHOLE_NUMBER_TEXT = re.compile(r"^-?[0-9]+$")
TERRAFORM_TYPE = "huaweicloud_fgs_function"


def read_deployment(path: str | Path, resource: str | None = None) -> dict[str, Any]:
    """The configuration keys ``path`` gives, as written, with ``code_root`` (``resource``:
    which function, when the file deploys several)."""
    path = Path(path)
    if not path.is_file():
        raise FunctionConfigError("config", f"{str(path)!r} is not a file")
    name = path.name.lower()
    if name.endswith(".json"):
        fields = _from_api_json(path)
    elif name.endswith(".tf"):
        fields = _from_terraform(path, resource)
    elif name.endswith((".yaml", ".yml")):
        fields = _from_serverless(path, resource)
    else:
        raise FunctionConfigError(
            "config", f"{str(path)!r}: not a deployment file this reads; allowed: the API's "
                      "function JSON (.json), Terraform (.tf), Serverless Devs (s.yaml)")
    fields.setdefault("code_root", path.parent)
    return fields


def _map(source: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    return {keys[k]: v for k, v in source.items() if k in keys and v is not None}


# --- the API's function JSON -----------------------------------------------------------------

def _from_api_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FunctionConfigError("config", f"{str(path)!r} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: a function's JSON is an object")
    fields = _map(data, _API_KEYS)
    strategy = data.get("strategy_config")
    if strategy is not None:
        if not isinstance(strategy, dict):
            raise FunctionConfigError("config", f"{str(path)!r}: strategy_config must be an "
                                                "object (concurrency, concurrent_num)")
        fields.update(_map(strategy, _API_STRATEGY_KEYS))
    for key, unset in _UNSET.items():
        value = fields.get(key)
        if key in fields and (value == unset or (isinstance(value, str) and not value.strip())):
            del fields[key]
    return fields


# --- Serverless Devs -------------------------------------------------------------------------

def _from_serverless(path: Path, resource: str | None) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FunctionConfigError("config", f"{str(path)!r} is not valid YAML ({exc})") from None
    # Serverless Devs 2 lists them under ``services``, 3 under ``resources``.
    if not isinstance(data, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: an s.yaml is a mapping of "
                                            "services (or resources)")
    found: dict[str, Any] = {}
    for section in ("services", "resources"):
        services = data.get(section) or {}
        if not isinstance(services, dict):
            raise FunctionConfigError("config", f"{str(path)!r}: {section} must be a mapping "
                                                "of names to services")
        for name, service in services.items():
            props = service.get("props") if isinstance(service, dict) else None
            if isinstance(props, dict) and isinstance(props.get("function"), dict):
                found[name] = service
    name = _pick(path, "a service with props.function", found, resource)
    function = found[name]["props"]["function"]
    fields = _map(function, _SERVERLESS_KEYS)
    code = function.get("code")
    if code is not None and not isinstance(code, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: code must be a mapping with "
                                            "codeUri")
    code_uri = code.get("codeUri") if code is not None else None
    if code_uri is not None:
        if not isinstance(code_uri, str):
            raise FunctionConfigError("config", f"{str(path)!r}: code.codeUri must be a path")
        fields["code_root"] = path.parent / code_uri
    return fields


def _pick(path: Path, what: str, found: Mapping[str, Any], resource: str | None) -> str:
    if resource is not None:
        if resource not in found:
            raise FunctionConfigError(
                "resource", f"{resource!r} is not in {str(path)!r}; it has: "
                            + (", ".join(sorted(found)) or "none"))
        return resource
    if len(found) != 1:
        raise FunctionConfigError(
            "resource", f"{str(path)!r} has {len(found)} of {what}"
                        + (f" ({', '.join(sorted(found))}): say which one with resource="
                           if found else ""))
    return next(iter(found))


# --- Terraform -------------------------------------------------------------------------------

def _from_terraform(path: Path, resource: str | None) -> dict[str, Any]:
    resources: dict[str, dict[str, Any]] = {}
    for block in _hcl(path).get("resource", []):
        for kind, named in block.items():
            if _unquote(kind) == TERRAFORM_TYPE:
                for name, body in named.items():
                    resources[_unquote(name)] = body
    name = _pick(path, f"{TERRAFORM_TYPE} resources", resources, resource)
    variables = _variables(path.parent)
    fields: dict[str, Any] = {}
    for attribute, value in resources[name].items():
        key = _TERRAFORM_KEYS.get(attribute)
        if key is None:
            continue  # what the emulator does not use: accepted, ignored
        where = f"{str(path)!r}, resource {TERRAFORM_TYPE}.{name}, {attribute}"
        if key == "reserved_instances":  # blocks, one per version or alias: their counts add up
            fields[key] = _reserved_count(value, variables, where)
            continue
        fields[key] = _Evaluator(variables, where).value(value)
        if (key in _WHOLE_NUMBERS and isinstance(fields[key], str)
                and _WHOLE_NUMBER_TEXT.match(fields[key])):
            fields[key] = int(fields[key])  # (Terraform converts "30" to a number; the
    return fields                           # provider even types max_instance_num a string)


def _reserved_count(blocks: Any, variables: Mapping[str, tuple[str, Any]], where: str) -> int:
    """The instances ``reserved_instances { count = N ... }`` blocks reserve, in all."""
    if isinstance(blocks, dict):
        blocks = [blocks]
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise FunctionConfigError("config", f"{where}: expected reserved_instances blocks "
                                            "with a count")
    total = 0
    for block in blocks:
        count = _Evaluator(variables, where).value(block.get("count", 0))
        if isinstance(count, str) and _WHOLE_NUMBER_TEXT.match(count):
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FunctionConfigError("config", f"{where}: count {count!r} is not a whole "
                                                "number >= 0")
        total += count
    return total


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2
    from lark.exceptions import LarkError

    try:
        with path.open() as file:
            data: dict[str, Any] = hcl2.load(file)
    except (LarkError, UnicodeDecodeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FunctionConfigError("config",
                                  f"{str(path)!r} is not valid HCL ({first_line})") from None
    return data


def _variables(folder: Path) -> dict[str, tuple[str, Any]]:
    """The ``default`` of every ``variable`` block in the folder's ``.tf`` files, as written
    (with where it is written): each is worked out only when used, since a default nobody
    uses may be anything."""
    raw: dict[str, tuple[str, Any]] = {}
    for tf in sorted(folder.glob("*.tf")):
        for block in _hcl(tf).get("variable", []):
            for name, body in block.items():
                if isinstance(body, dict) and "default" in body:
                    raw[_unquote(name)] = (f"{str(tf)!r}, variable {_unquote(name)}",
                                           body["default"])
    return raw


def _unquote(text: str) -> str:
    return json.loads(text) if text.startswith('"') and text.endswith('"') else text


_HEREDOC = re.compile(r'^"<<(?P<indent>-?)(?P<tag>\w+)\n(?P<body>.*)\n\s*(?P=tag)"$', re.S)
_TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)
                    |(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)|(?P<punct>[{}()\[\]=:,]))""", re.X)


class _Evaluator:
    """Values python-hcl2 leaves as text: quoted literals, and ``${...}`` expressions made of
    literals, ``var.x`` and ``jsonencode(...)``; anything else is an error naming it."""

    def __init__(self, variables: Mapping[str, tuple[str, Any]], where: str) -> None:
        self.variables = variables
        self.where = where
        self.text = ""

    def value(self, raw: Any) -> Any:
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {_unquote(k): self.value(v) for k, v in raw.items() if k != "__is_block__"}
        if not isinstance(raw, str):
            return raw
        if raw.startswith("${") and raw.endswith("}"):
            return self.expression(raw[2:-1])
        heredoc = _HEREDOC.match(raw)
        if heredoc:
            text = textwrap.dedent(heredoc["body"]) if heredoc["indent"] else heredoc["body"]
        else:
            try:
                text = _unquote(raw)
            except ValueError:  # a template with quotes inside: "${upper("x")}"
                text = raw
        return self._template(text)

    def _template(self, text: str) -> Any:
        """A string: ``"${expression}"`` is the expression's value; ``$${`` is a literal
        ``${``; any other interpolation is Terraform's to work out."""
        template = text.replace("$${", "")
        if template.startswith("${") and template.endswith("}") and template.count("${") == 1:
            return _Evaluator(self.variables, self.where).expression(template[2:-1])
        if "${" in template:
            self.text = text
            self._cannot()
        return text.replace("$${", "${")

    def expression(self, text: str) -> Any:
        self.text = text
        self.tokens = list(self._tokens(text))
        self.at = 0
        value = self._term()
        if self.at != len(self.tokens):
            self._cannot()
        return value

    def _tokens(self, text: str) -> Iterator[tuple[str, str]]:
        pos = 0
        while pos < len(text.rstrip()):
            match = _TOKEN.match(text, pos)
            if match is None:
                self._cannot()
            assert match is not None and match.lastgroup is not None
            yield match.lastgroup, match.group(match.lastgroup)
            pos = match.end()

    def _next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            self._cannot()
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _expect(self, punct: str) -> None:
        if self._next() != ("punct", punct):
            self._cannot()

    def _term(self) -> Any:
        kind, text = self._next()
        if kind == "string":
            return self._template(json.loads(text))
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "punct" and text == "{":
            return self._object()
        if kind == "punct" and text == "[":
            return self._list()
        if kind == "name":
            if text in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[text]
            if text.startswith("var.") and text.count(".") == 1:
                if text[4:] not in self.variables:
                    raise FunctionConfigError(
                        "config", f"{self.where}: {text} has no default in the folder's "
                                  "variable blocks, so its value is unknown here")
                where, default = self.variables[text[4:]]
                return _Evaluator({}, where).value(default)
            if text == "jsonencode":
                self._expect("(")
                value = self._term()
                self._expect(")")
                return json.dumps(value, separators=(",", ":"))
        self._cannot()

    def _object(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self.tokens[self.at:self.at + 1] != [("punct", "}")]:
            kind, key = self._next()
            if kind not in ("string", "name"):
                self._cannot()
            key = json.loads(key) if kind == "string" else key
            if self._next() not in (("punct", "="), ("punct", ":")):
                self._cannot()
            result[key] = self._term()
            if self.tokens[self.at:self.at + 1] == [("punct", ",")]:
                self.at += 1
        self._expect("}")
        return result

    def _list(self) -> list[Any]:
        result: list[Any] = []
        while self.tokens[self.at:self.at + 1] != [("punct", "]")]:
            result.append(self._term())
            if self.tokens[self.at:self.at + 1] == [("punct", ",")]:
                self.at += 1
        self._expect("]")
        return result

    def _cannot(self) -> Any:
        shown = self.text if "${" in self.text else f"${{{self.text}}}"
        raise FunctionConfigError(
            "config", f"{self.where}: cannot work out {shown} without Terraform; "
                      "allowed: literals, var.<name> with a default, jsonencode({...}) of those")
