"""The config layer every YAML file format shares: models, durations, errors, JSON Schema.

Each format (a pipeline, ``warehouse.yml``, quality checks, metrics, experiments)
is a tree of frozen `Spec` models that refuse unknown keys; variants are
discriminated unions on their ``op`` or ``type`` key, titled with what they
are (``Field(discriminator="op", title="operation")``). `parse` validates data
as a format's root model and turns the first problem into one `ConfigError`
line naming the file, the key path, what was expected and a did-you-mean::

    pipelines/x.yml: pipeline.transformations[1].operations[0]: unknown operation
    'dedupe'; did you mean 'deduplicate'?

The allowed keys and tags come from the models themselves, so a new option or
operation needs no change here. `json_schema` gives the same models as JSON
Schema, for editors.
"""

from __future__ import annotations

import re
import reprlib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.fields import FieldInfo

from warehouse_kit.core.errors import ConfigError, did_you_mean

MAX_NAME_LENGTH = 55  # PostgreSQL's 63-byte limit, less room for a staging prefix
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_PATTERN = _NAME.pattern


# --- the base model and shared types --------------------------------------------------


def canonical_keys(data: Mapping[str, Any], spellings: Mapping[str, str]) -> dict[str, Any]:
    """`data` with each other spelling of a key (``column``) as the key itself (``field``)."""
    data = dict(data)
    for other, key in spellings.items():
        if other in data:
            if key in data:
                raise ValueError(f"give {key!r} or {other!r}, not both")
            data[key] = data.pop(other)
    return data


def _document_spellings(schema: dict[str, Any], cls: type) -> None:
    """Spellings are keys too, for editors: each takes the schema of the key it stands for."""
    spellings = cls.all_spellings() if issubclass(cls, Spec) else {}
    properties = schema.get("properties", {})
    for other, key in spellings.items():
        if key in properties:
            properties[other] = properties[key]
    required = schema.get("required", [])
    spelled = [[k, *(o for o, t in spellings.items() if t == k)] for k in required]
    if any(len(names) > 1 for names in spelled):
        schema["required"] = [names[0] for names in spelled if len(names) == 1]
        schema["allOf"] = [
            {"oneOf": [{"required": [name]} for name in names]}
            for names in spelled
            if len(names) > 1
        ]
        if not schema["required"]:
            del schema["required"]


class Spec(BaseModel):
    """A part of a file format: frozen, and an unknown key is an error."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,  # a field's docstring is its description, for editors
        json_schema_extra=_document_spellings,
    )

    spellings: ClassVar[Mapping[str, str]] = {}
    """Other keys accepted for a field (``column`` for ``field``); a subclass adds to its
    parents'."""

    @classmethod
    def all_spellings(cls) -> dict[str, str]:
        merged: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("spellings", {}))
        return merged

    @model_validator(mode="before")
    @classmethod
    def _spelled(cls, data: Any) -> Any:
        spellings = cls.all_spellings()
        return canonical_keys(data, spellings) if spellings and isinstance(data, Mapping) else data


def check_name(value: str) -> str:
    """`value`, when it can name a table or schema; else a ValueError saying why."""
    if not _NAME.match(value) or len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits and underscores, "
            f"starting with a letter or underscore, at most {MAX_NAME_LENGTH} characters"
        )
    return value


def one_or_many(value: Any) -> Any:
    """``x`` is ``[x]``."""
    return [value] if isinstance(value, str) else value


Name = Annotated[
    str,
    AfterValidator(check_name),
    Field(json_schema_extra={"pattern": _NAME.pattern, "maxLength": MAX_NAME_LENGTH}),
]
"""A model, stage, schema or source name: it becomes a table or schema name."""

Column = Annotated[str, Field(min_length=1)]
"""A column name; checked against the real table when the model is built."""

Columns = Annotated[
    list[Column], BeforeValidator(one_or_many, json_schema_input_type=Column | list[Column])
]
"""One column or a list of them."""

Expression = Annotated[str, Field(min_length=1)]
"""A SQL expression, parsed with sqlglot into an Ibis expression (never executed as text)."""


# --- durations ------------------------------------------------------------------------

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*")
_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[A-Za-z]+\s*)+$"


def parse_duration(value: Any) -> timedelta:
    """``24h``, ``2 days``, ``1d 12h``, ``90 minutes``, ``1.5h`` as a timedelta."""
    if isinstance(value, timedelta):
        return value
    text = str(value)
    parts = list(_PART.finditer(text))
    units = [m.group(2).lower() for m in parts]
    if not parts or "".join(m.group(0) for m in parts) != text or set(units) - set(_UNITS):
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, "
            "such as 24h, 2 days, 1d 12h or 30 minutes"
        )
    seconds = sum(float(m.group(1)) * _UNITS[u] for m, u in zip(parts, units, strict=True))
    return timedelta(seconds=seconds)


def _duration(value: Any) -> Any:
    # A number is left to pydantic: seconds where a duration is all a key takes.
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": _DURATION_PATTERN}, {"type": "number"}],
            "description": "A duration: 24h, 2 days, 1d 12h, 30 minutes (a number: seconds).",
        }
    ),
]
"""A duration; the one parser of every file format."""


# --- validating, and the one error formatter -----------------------------------------

SpecT = TypeVar("SpecT", bound=BaseModel)


def parse(cls: type[SpecT], data: Any, *, file: str | None, key_path: str = "") -> SpecT:
    """Validate `data` as `cls`; the first problem becomes a one-line `ConfigError`.

    `key_path` is where `data` sits in its file, when it is not the whole file.
    """
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, cls, file=file, key_path=key_path) from None


def config_error(
    exc: ValidationError, root: Any, *, file: str | None, key_path: str = ""
) -> ConfigError:
    """The first problem of `exc`, raised validating `root` (a model or a type), as one line.

    An unknown key comes first: a misspelled required key is also a missing one,
    and the unknown key is the one that says what to fix.
    """
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(error["loc"])
    place = _locate(root, loc)
    message = _describe(error, place, _locate(root, loc[:-1]) if loc else place)
    path = key_path + place.path if place.path.startswith("[") else _join(key_path, place.path)
    return ConfigError(message, file=file, key_path=path or None)


@dataclass(frozen=True)
class _Place:
    """Where a pydantic error location leads: its key path and the annotation there."""

    path: str = ""
    annotation: Any = Any
    entered_as: str = ""
    """``range check``: the union member the last step chose, when it chose one."""


def _locate(root: Any, loc: tuple[Any, ...]) -> _Place:
    place = _Place(annotation=root)
    for item in loc:
        place = _step(place, item)
    return place


def _step(place: _Place, item: Any) -> _Place:
    """One item of a location further: a key, an index or the union member pydantic tried."""
    annotation, _ = _unwrap(place.annotation)
    origin = get_origin(annotation)
    if item == "[key]":  # a mapping's key itself was invalid: its path is the key's
        return _Place(place.path)
    if _is_model(annotation):
        field = _field(annotation, str(item))
        inner = _field_annotation(field) if field else Any
        return _Place(_join(place.path, str(item)), inner)
    if origin is list:
        return _Place(f"{place.path}[{item}]", get_args(annotation)[0])
    if origin is dict:
        return _Place(_join(place.path, str(item)), get_args(annotation)[1])
    if _is_union(annotation):
        tag, title = _tagging(place.annotation)
        for member in _members(annotation):
            if item in _tags_of(member, tag) or item == getattr(member, "__name__", None):
                noun = title.removesuffix(f" {tag}").removesuffix(" type")
                entered = f"{item} {noun}" if tag else ""
                return _Place(place.path, member, entered)
        return _Place(place.path)  # a member pydantic names by its type ("list[str]")
    if isinstance(item, int):
        return _Place(f"{place.path}[{item}]")
    shown = isinstance(item, str) and "[" not in item and not item.startswith("function-")
    return _Place(_join(place.path, item) if shown else place.path)


def _describe(error: Any, place: _Place, parent: _Place) -> str:
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "union_tag_invalid":
        title = _tagging(place.annotation)[1]
        found = str(ctx.get("tag", ""))
        return f"unknown {title} {found!r}{_suggest(found, _all_tags(place.annotation))}"
    if kind == "union_tag_not_found":
        return f"missing key {_tag_key(place.annotation)}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _keys(parent.annotation)
        member = f" for a {parent.entered_as}" if parent.entered_as else ""
        return f"unknown key {key!r}{member}{_suggest(key, known)}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        annotation, _ = _unwrap(place.annotation)
        if _is_union(annotation) and _tagging(place.annotation)[0]:
            return f"expected a mapping with the key {_tag_key(place.annotation)}"
        return f"expected a mapping, not {reprlib.repr(error['input'])}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _suggest(word: str, candidates: Iterable[str]) -> str:
    options = sorted(set(candidates))
    if not options:
        return ""
    return did_you_mean(word, options) or f"; expected one of {', '.join(options)}"


def _tag_key(union: Any) -> str:
    """``'type' (or 'check'): one of not_null, unique, ...``: the key that picks a member."""
    tag, _ = _tagging(union)
    members = _members(_unwrap(union)[0])
    others = sorted(
        {o for m in members if _is_model(m) for o, k in _spellings(m).items() if k == tag}
    )
    also = "".join(f" (or {o!r})" for o in others)
    return f"{tag!r}{also}: one of {', '.join(_all_tags(union))}"


# --- what the annotations say ---------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[X | None, ...]`` is X, with the Annotated metadata."""
    metadata: list[Any] = []
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *more = get_args(annotation)
            metadata += more
        elif _is_union(annotation) and type(None) in get_args(annotation):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return annotation, metadata


def _tagging(annotation: Any) -> tuple[str, str]:
    """The discriminator of a union and its title (``("op", "operation")``), or ``("", "")``."""
    _, metadata = _unwrap(annotation)
    for item in metadata:
        if isinstance(item, FieldInfo) and isinstance(item.discriminator, str):
            return item.discriminator, item.title or f"{item.discriminator} value"
    return "", ""


def _field_annotation(field: FieldInfo) -> Any:
    # pydantic keeps a top-level Annotated's discriminator on the field, not the annotation.
    if isinstance(field.discriminator, str):
        return Annotated[
            field.annotation, Field(discriminator=field.discriminator, title=field.title)
        ]
    return field.annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _members(annotation: Any) -> list[Any]:
    return [_unwrap(arg)[0] for arg in get_args(annotation)] if _is_union(annotation) else []


def _tags_of(member: Any, tag: str) -> tuple[Any, ...]:
    """The values of a member's discriminator literal (``type: Literal["sum", "avg"]``)."""
    if not tag or not _is_model(member) or tag not in member.model_fields:
        return ()
    literal = _unwrap(member.model_fields[tag].annotation)[0]
    return get_args(literal) if get_origin(literal) is Literal else ()


def _all_tags(union: Any) -> list[str]:
    tag, _ = _tagging(union)
    return [str(value) for m in _members(_unwrap(union)[0]) for value in _tags_of(m, tag)]


def _keys(annotation: Any) -> list[str]:
    """The keys a model takes: its fields (by their YAML names) and their other spellings."""
    model, _ = _unwrap(annotation)
    if not _is_model(model):
        return []
    fields = [field.alias or name for name, field in model.model_fields.items()]
    return [*fields, *_spellings(model)]


def _spellings(model: Any) -> dict[str, str]:
    return model.all_spellings() if issubclass(model, Spec) else {}


def _field(cls: type[BaseModel], key: str) -> FieldInfo | None:
    for name, field in cls.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and key else path or key


# --- JSON Schema ----------------------------------------------------------------------

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(root: Any, title: str) -> dict[str, Any]:
    """The JSON Schema of a format's root model (or type), as editors read it."""
    schema = TypeAdapter(root).json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, **schema, "title": title}
