"""Reading a project's YAML files: YAML 1.2 booleans, ``${VAR}`` from the environment.

A problem is a `ConfigError` naming the file (and the line, for a YAML error);
`warehouse_kit.core.config.parse` then validates what was read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from warehouse_kit.core.errors import ConfigError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_variables(data: Any, *, file: str, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of `data`."""
    if isinstance(data, dict):
        return {
            key: resolve_variables(value, file=file, environ=environ, path=_join(path, str(key)))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [
            resolve_variables(value, file=file, environ=environ, path=f"{path}[{index}]")
            for index, value in enumerate(data)
        ]
    if isinstance(data, str):

        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set", file=file, key_path=path or None
            )

        return _VARIABLE.sub(lookup, data)
    return data


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so a key like ``on:`` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: Path, *, display: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=display) from None
    try:
        return yaml.load(quote_bare_variables(text), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {where}{problem}", file=display) from None


# A value that is a whole ${VAR}: after "key: ", "[" or ",", up to the end of the value.
_BARE_VARIABLE = re.compile(
    r"(?:(?<=[:,] )|(?<=[\[,])|(?<=\[ ))"
    r"(\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\"'\n]*)?\})"
    r"(?=[ \t]*(?:[,}\]]|#|$))",
    re.MULTILINE,
)


def quote_bare_variables(text: str) -> str:
    """Quote each value that is a whole ``${VAR}``, so that it reads in a flow mapping
    too: ``{channel: webhook, url: ${ALERT_WEBHOOK_URL}}`` is the users' form, and YAML
    would end a plain value at its ``{``. The value stays the same string."""
    return _BARE_VARIABLE.sub(r'"\1"', text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
