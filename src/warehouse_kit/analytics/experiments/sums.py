"""The sufficient statistics of one metric in one arm: the only input of `stats`.

The warehouse computes them in one aggregation per experiment (`sufficient`); tests and
simulations make them from unit values (`Sums.of`). Each sum may be a numpy array, one
entry per simulated experiment, and goes through `stats` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

Number = Any
"""A float, or a numpy array of them (one per simulated experiment)."""


@dataclass(frozen=True)
class Sums:
    """The sufficient statistics of one metric in one arm: sums over its units.

    ``y`` is the metric's per-unit value; ``x`` a ratio metric's denominator;
    ``c`` the CUPED covariate. Sums add up, so arms pool and days accumulate.
    """

    n: Number
    y: Number
    yy: Number
    x: Number = 0.0
    xx: Number = 0.0
    xy: Number = 0.0
    c: Number = 0.0
    cc: Number = 0.0
    yc: Number = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @classmethod
    def of(cls, y: Any, x: Any = None, c: Any = None, *, axis: int = -1) -> Sums:
        """The sums of per-unit values (numpy arrays), along `axis` (for tests and
        simulations; the warehouse computes them in SQL)."""
        y = np.asarray(y, dtype=float)
        x = np.zeros_like(y) if x is None else np.asarray(x, dtype=float)
        c = np.zeros_like(y) if c is None else np.asarray(c, dtype=float)

        def total(values: Any) -> Any:
            return values.sum(axis=axis)

        return cls(
            n=total(np.ones_like(y)),
            y=total(y),
            yy=total(y * y),
            x=total(x),
            xx=total(x * x),
            xy=total(x * y),
            c=total(c),
            cc=total(c * c),
            yc=total(y * c),
        )
