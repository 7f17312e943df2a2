"""Ibis's PySpark SQL compiler, corrected where ibis 12 writes SQL that Spark reads
differently from what the expression means."""

from __future__ import annotations

import string
from typing import Any

import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.pyspark import PySparkCompiler

WHITESPACE = string.whitespace


class SparkCompiler(PySparkCompiler):
    def visit_IsInf(self, op: Any, *, arg: sge.Expression) -> sge.Expression:
        # Ibis compares with Python's ==, which sqlglot answers with False: isinf() was
        # always false, and an infinite float passed every check.
        if not op.arg.dtype.is_floating():
            return sge.false()
        return sg.or_(
            sge.EQ(this=arg, expression=self.POS_INF), sge.EQ(this=arg, expression=self.NEG_INF)
        )

    def visit_Strip(self, op: Any, *, arg: sge.Expression) -> sge.Expression:
        # Ibis writes the whitespace as one literal with \v and \f in it, escapes Spark
        # reads as the letters v and f: ' dev' was trimmed to 'de'. Spark's char() says
        # each character without an escape.
        characters = self.f.concat(
            *(sge.Anonymous(this="char", expressions=[sge.convert(ord(c))]) for c in WHITESPACE)
        )
        return sge.Trim(this=arg, expression=characters)


compiler = SparkCompiler()
