"""What a model's table is a function of, as one short digest: whether it is up to date.

A model is up to date when its definition (its Ibis expression, materialization,
checks and output schema) and the runs that last wrote its inputs are those of its
last build (`fingerprint`). The expression is digested by its structure, node by
node (`expression_digest`): the same in every process, and about as cheap as walking
the tree once, where compiling it to SQL costs a hundred times more. (Pickling it is
cheap too, but not canonical: pickle shares equal strings by identity, so two equal
trees can pickle to different bytes.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.common.graph import Node

VOLATILE = (ops.DateNow, ops.TimestampNow, ops.RandomScalar, ops.RandomUUID)
"""What makes an expression read the clock or draw at random: its model is built every run."""


def fingerprint(
    expr: ir.Table,
    materialization: object,
    checks: Sequence[Any],
    output: object,
    inputs: Mapping[str, str],
) -> str | None:
    """The digest of a model's definition and its inputs' last writes (`inputs`: each
    input's model id and the run that last wrote it); None for an expression that reads
    the clock or draws at random, which is never up to date."""
    if expr.op().find(VOLATILE):
        return None
    facts = [
        expression_digest(expr),
        repr(materialization),
        [check.model_dump_json() for check in checks],
        repr(output),
        sorted(inputs.items()),
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:24]


def expression_digest(expr: ir.Expr) -> str:
    """A digest of an Ibis expression's structure, the same for equal trees."""
    memo: dict[int, str] = {}
    return _node(expr.op(), memo)


def _node(node: Node, memo: dict[int, str]) -> str:
    """Each node once: a shared subtree is digested the first time it is met."""
    found = memo.get(id(node))
    if found is None:
        parts = [type(node).__module__, type(node).__qualname__]
        parts += [_value(arg, memo) for arg in node.__args__]
        found = memo[id(node)] = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return found


def _value(value: object, memo: dict[int, str]) -> str:
    if isinstance(value, Node):
        return _node(value, memo)
    if isinstance(value, tuple | list):
        return "(" + ",".join(_value(item, memo) for item in value) + ")"
    if isinstance(value, Mapping):
        items = (f"{_value(k, memo)}:{_value(v, memo)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    return f"{type(value).__qualname__}:{value!r}"
