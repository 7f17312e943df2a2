"""Models: named nodes that turn input tables into an Ibis table expression.

A model is declared in a pipeline file or in Python with `@model`; both give
a `Model`, and together they form one DAG. A model's `build` receives its
inputs as Ibis tables and returns an expression; how the result is written is
its `materialization`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import ibis.expr.types as ir

from warehouse_kit.core.config import MAX_NAME_LENGTH, check_name, parse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.operations import DimensionOptions
from warehouse_kit.core.physical import Index, Physical
from warehouse_kit.core.retries import Retries
from warehouse_kit.core.spec import Incremental, IncrementalModel, SchemaContract

UNKNOWN_KEY = -1
"""The surrogate key of every dimension's unknown member, which facts without a match get."""
BEGINNING = datetime(1900, 1, 1)
"""When a type-2 member's first version starts, so that older facts still find it."""
END = datetime(9999, 12, 31)
"""When a current version ends."""

if TYPE_CHECKING:
    from warehouse_kit.core.backends import Transaction, Warehouse
    from warehouse_kit.core.quality import BaseCheck


@dataclass(frozen=True)
class Table:
    """Rebuild the whole table on every run, atomically."""

    kind: Literal["table"] = "table"


@dataclass(frozen=True)
class View:
    """A view over the model's inputs, created anew on every build: it holds no rows, so
    what it shows is what its inputs hold when it is read, never stale."""

    kind: Literal["view"] = "view"


@dataclass(frozen=True)
class Dimension:
    """A dimension of type 1 or 2 whose surrogate keys stay the same across runs."""

    options: DimensionOptions
    kind: Literal["dimension"] = "dimension"


@dataclass(frozen=True)
class DimensionKeys:
    """How facts find a dimension's members: natural key, surrogate key, and for a
    type-2 dimension the columns bounding each version's validity."""

    natural: tuple[str, ...]
    surrogate: str
    valid_from: str | None = None
    valid_to: str | None = None

    @classmethod
    def of(cls, name: str, options: DimensionOptions) -> DimensionKeys:
        surrogate = options.surrogate_key or default_surrogate_key(name)
        if options.scd == 1:
            return cls(tuple(options.key), surrogate)
        names = options.history_columns
        return cls(tuple(options.key), surrogate, names.effective_from, names.effective_to)


@dataclass(frozen=True)
class SourceLoad:
    """Land a source table in bronze: append new batches, or replace with the latest;
    with a cursor, only the rows past its watermark."""

    mode: Literal["append", "replace"]
    incremental: Incremental | None = None
    kind: Literal["source"] = "source"
    stream: bool = False
    """A stream's batches: its messages past the stored offsets (`wk stream`)."""


@dataclass(frozen=True)
class Merge:
    """Build from the input rows loaded since the last run and merge them by unique key."""

    options: IncrementalModel
    kind: Literal["incremental"] = "incremental"


Materialization = Table | View | Dimension | SourceLoad | Merge


@dataclass(frozen=True)
class Batch:
    """What a source read yields: the rows to load, and what they were read from."""

    table: ir.Table
    description: str
    fingerprints: tuple[str, ...] | None = None
    """One per file to load, from its name and content; empty when every file is loaded
    already; None for a database, which cannot tell (each run is a new batch)."""
    filterable: bool = False
    """The source filters rows itself (a database), so an incremental load reads only new ones."""
    explain: Callable[[Exception], Exception | None] = lambda exc: None
    """An error raised while the rows are read, as one naming the file and line (or None):
    a malformed row past what the source checked before the run is found while loading."""
    commit: Callable[[Transaction, str], str] | None = None
    """What the source records with its rows, in their transaction, given the run id (a
    stream: its next offsets and dead letters); returns a note for the run history."""
    nothing_new: str = "no new files"
    """The note of a run that found nothing to load (`fingerprints` empty)."""
    done: Callable[[], None] = lambda: None
    """Called once the rows are committed (a stream: commits its consumer group's offsets)."""


@dataclass(frozen=True)
class Guard:
    """A condition the data must meet before a model is written: `offending` must be
    empty; otherwise the model fails with `explain` of a few offending rows."""

    offending: ir.Table
    explain: Callable[[list[dict[str, Any]]], str]


@dataclass(frozen=True)
class Tally:
    """Rows an operation set apart (``dropped``: a NULL key, a duplicate, a filter rule) or
    values it could not read (``unparsed``: text that did not cast), counted for the run
    record so every row is accounted for."""

    kind: Literal["dropped", "unparsed"]
    counts: ir.Table
    """One row; a column per reason (``NULL id``, ``amount as int64``), one scan of the
    operation's input for all of them."""
    out_of: Mapping[str, str] = field(default_factory=dict)
    """For an unparsed reason, the column of `counts` with the values it was read from
    (the non-empty ones)."""
    limit: float = 1.0
    """The share of those that may fail to parse before the run warns."""
    grouped: bool = False
    """Counting it takes a count per group (duplicates): the costliest to count."""


@dataclass
class BuildContext:
    """What a model's build sees."""

    inputs: Mapping[str, ir.Table]
    """Input tables, by the reference the model used for them."""
    warehouse: Warehouse
    model: Model
    upstream: Mapping[str, Model] = field(default_factory=dict)
    """Input models, by the same references as `inputs`."""
    full_refresh: bool = False
    guards: list[Guard] = field(default_factory=list)
    """Conditions operations ask to be checked before the model is written."""
    tallies: list[Tally] = field(default_factory=list)
    """What operations set apart or could not read, counted when the model is written."""
    keeps_rows: bool = True
    """Every input row ends in the output, or is set apart and counted (no operation
    groups or joins rows), so rows in = rows out + quarantined + dropped."""
    schema: str = ""
    """The schema the model's table is in (a stream reads the types it landed with)."""
    readable: Callable[[str], ir.Table | None] = field(default=lambda reference: None)
    """An input's rows as the engine can read them while planning (its table as landed
    before, or a source batch planned in this run), by reference; None when they are
    built later in the run. `inputs` only say their columns."""
    notes: list[str] = field(default_factory=list)
    """What operations chose by themselves (the types inferred), for the plan and the
    model's run record."""

    def input(self, reference: str) -> ir.Table:
        return self.inputs[reference]


Build = Callable[[BuildContext], "ir.Table | Batch"]
Materialized = Literal["table", "view"]
OptionsT = TypeVar("OptionsT", DimensionOptions, IncrementalModel, Retries)


@dataclass(frozen=True)
class Model:
    """A named node of the DAG."""

    name: str
    stage: str
    inputs: tuple[str, ...]
    """References to other models, as written (``customers`` or ``silver.customers``)."""
    build: Build = field(repr=False, compare=False)
    materialization: Materialization = field(default_factory=Table)
    description: str = ""
    origin: str = ""
    """Where it was declared: ``pipelines/x.yml: pipeline...`` or ``models/y.py:12``."""
    pipeline: str = ""
    columns: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Column descriptions."""
    pii: Mapping[str, str | None] = field(default_factory=dict, compare=False)
    """Columns tagged personal (their category: email, name...) or declared safe (None)
    though derived from personal data; the rest follow their inputs (`lineage`)."""
    source: str = ""
    """For a bronze model: the source it lands."""
    function: Callable[..., ir.Table] | None = field(default=None, repr=False, compare=False)
    keys: DimensionKeys | None = None
    """Set when the model is a dimension that facts can look up."""
    dimensions: tuple[str, ...] = ()
    """For a fact: references to the dimensions whose surrogate keys it holds."""
    checks: tuple[BaseCheck, ...] = ()
    """Data-quality checks of its rows, run before it is published."""
    contract: SchemaContract = "evolve"
    """What its table does when the columns written to it change (`materialize.schema`)."""
    physical: Physical = field(default_factory=Physical)
    """Its table's indexes, partitioning and clustering (`core.physical`)."""
    retries: Retries | None = None
    """How its write is tried again after a transient fault (`core.retries`); None: once."""

    @property
    def id(self) -> str:
        return f"{self.stage}.{self.name}"

    @property
    def key(self) -> tuple[str, ...]:
        """What identifies a row: a dimension's natural key, an incremental model's unique key."""
        if self.keys is not None:
            return self.keys.natural
        if isinstance(self.materialization, Merge):
            return tuple(self.materialization.options.unique_key)
        return ()

    def __call__(self, *args: ir.Table, **kwargs: ir.Table) -> ir.Table:
        """Call a Python model's function directly, for tests and notebooks."""
        if self.function is None:
            raise TypeError(f"{self.id} is declared in a pipeline file, not a Python function")
        return self.function(*args, **kwargs)


@overload
def model(function: Callable[..., ir.Table], /) -> Model: ...
@overload
def model(
    function: None = None,
    /,
    *,
    name: str | None = None,
    stage: str = "gold",
    inputs: Mapping[str, str] | None = None,
    dimension: Mapping[str, Any] | DimensionOptions | None = None,
    incremental: Mapping[str, Any] | IncrementalModel | None = None,
    checks: Sequence[Mapping[str, Any] | BaseCheck] = (),
    description: str | None = None,
    schema_contract: SchemaContract = "evolve",
    indexes: Sequence[str | Sequence[str] | Mapping[str, Any] | Index] | None = None,
    partition_by: str | Sequence[str] = (),
    cluster_by: str | Sequence[str] = (),
    retries: Mapping[str, Any] | Retries | None = None,
    materialized: Materialized = "table",
) -> Callable[[Callable[..., ir.Table]], Model]: ...


def model(
    function: Callable[..., ir.Table] | None = None,
    /,
    *,
    name: str | None = None,
    stage: str = "gold",
    inputs: Mapping[str, str] | None = None,
    dimension: Mapping[str, Any] | DimensionOptions | None = None,
    incremental: Mapping[str, Any] | IncrementalModel | None = None,
    checks: Sequence[Mapping[str, Any] | BaseCheck] = (),
    description: str | None = None,
    schema_contract: SchemaContract = "evolve",
    indexes: Sequence[str | Sequence[str] | Mapping[str, Any] | Index] | None = None,
    partition_by: str | Sequence[str] = (),
    cluster_by: str | Sequence[str] = (),
    retries: Mapping[str, Any] | Retries | None = None,
    materialized: Materialized = "table",
) -> Model | Callable[[Callable[..., ir.Table]], Model]:
    """Declare a Python model: a function whose parameters name its inputs.

    >>> import ibis
    >>> @model(stage="gold")
    ... def big_orders(fact_orders):
    ...     return fact_orders.filter(fact_orders.amount > 100)
    >>> big_orders.id, big_orders.inputs
    ('gold.big_orders', ('fact_orders',))

    Each parameter is an input, resolved like a pipeline reference (the same
    stage first, then the nearest stage before it); `inputs` maps a parameter
    to an explicit reference such as ``"silver.customers"``. `dimension` makes
    it a dimension, with the options of the ``create_dimensions`` operation
    (``{"key": "customer_id", "scd": 2}``); `incremental` builds it from new
    input rows only and merges them (``{"unique_key": "order_id"}``); `checks`
    are data-quality checks as in a pipeline file's ``quality_checks``;
    `schema_contract` is ``evolve``, ``freeze`` or ``discard`` as in a pipeline file;
    `indexes`, `partition_by` and `cluster_by` its table's physical design, as in a
    pipeline file (`core.physical`); `retries` how its write is tried again after a
    transient fault (``{"attempts": 3, "backoff": "2s"}``, `core.retries`);
    `materialized` is ``table`` (default) or ``view`` (`View`), as in a pipeline file.
    """

    def declare(func: Callable[..., ir.Table]) -> Model:
        params = list(inspect.signature(func).parameters)
        refs = {param: (inputs or {}).get(param, param) for param in params}
        unknown = set(inputs or {}) - set(params)
        origin = _origin(func)
        if unknown:
            raise ConfigError(
                f"inputs name no parameter of the function: {sorted(unknown)}", file=origin
            )
        model_name = _valid(name or func.__name__, origin)
        options = _options(DimensionOptions, dimension, f"{origin}: dimension")
        merge = _options(IncrementalModel, incremental, f"{origin}: incremental")
        again = _options(Retries, retries, f"{origin}: retries")
        kind = materialization(options, merge, materialized, file=origin, key_path="")

        def build(ctx: BuildContext) -> ir.Table:
            ctx.keeps_rows = False  # a function may do anything with its rows
            return func(**{param: ctx.input(ref) for param, ref in refs.items()})

        return Model(
            name=model_name,
            stage=_valid(stage, origin),
            inputs=tuple(refs.values()),
            build=build,
            materialization=kind,
            description=description or inspect.getdoc(func) or "",
            origin=origin,
            function=func,
            keys=DimensionKeys.of(model_name, options) if options else None,
            checks=tuple(_parse_checks(checks, origin)),
            contract=schema_contract,
            physical=Physical.parse(indexes, partition_by, cluster_by, origin=origin),
            retries=again,
        )

    return declare(function) if function is not None else declare


def materialization(
    dimension: DimensionOptions | None,
    incremental: IncrementalModel | None,
    materialized: str,
    *,
    file: str,
    key_path: str,
) -> Materialization:
    """How a model declared with these options is written; a `ConfigError` for options
    that do not go together (a view keeps no rows: no history, no merged batches)."""
    if dimension and incremental:
        raise ConfigError(
            "a model is a dimension or incremental, not both", file=file, key_path=key_path
        )
    where = f"{key_path}.materialized" if key_path else "materialized"
    if materialized not in ("table", "view"):
        raise ConfigError(f"{materialized!r} is neither table nor view", file=file, key_path=where)
    if materialized == "view" and (dimension or incremental):
        what = "a dimension (its members keep their keys)" if dimension else "incremental"
        raise ConfigError(
            f"a view keeps no rows, so it cannot be {what}: use materialized: table",
            file=file,
            key_path=where,
        )
    if materialized == "view":
        return View()
    return Dimension(dimension) if dimension else Merge(incremental) if incremental else Table()


def default_surrogate_key(model_name: str) -> str:
    return f"{model_name.removeprefix('dim_')}_key"[:MAX_NAME_LENGTH]


def _options(
    cls: type[OptionsT], given: Mapping[str, Any] | OptionsT | None, where: str
) -> OptionsT | None:
    if given is None or isinstance(given, cls):
        return given
    return parse(cls, dict(given), file=where)


def _parse_checks(checks: Sequence[Mapping[str, Any] | BaseCheck], origin: str) -> list[BaseCheck]:
    from warehouse_kit.core.quality import parse_checks  # quality builds on models: import late

    return list(parse_checks(list(checks), file=origin, key_path="checks"))


def _valid(name: str, origin: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise ConfigError(str(exc), file=origin) from None


def _origin(func: Callable[..., Any]) -> str:
    try:
        file = inspect.getsourcefile(func) or "<unknown>"
        line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return getattr(func, "__qualname__", "<python>")
    return f"{file}:{line}"
