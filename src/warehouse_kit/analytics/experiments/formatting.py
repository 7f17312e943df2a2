"""How the figures of an experiment's result are written: numbers, percentages, intervals
and p-values, the same in the console table, the HTML and the conclusion's prose."""

from __future__ import annotations

import math

from warehouse_kit.analytics.experiments.comparison import Interval


def number(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.3g}" if sign else f"{value:.4g}"


def percent(value: float | None, *, plain: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:.1%}" if plain else f"{value:+.1%}"


def interval(bounds: Interval | None, *, percent: bool = False) -> str:
    if bounds is None:
        return ""
    shown = [_bound(b, percent) for b in bounds]
    return f"[{shown[0]}, {shown[1]}]"


def _bound(value: float, percent: bool) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "+inf"
    return f"{value:+.1%}" if percent else f"{value:+.3g}"


def p_value(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"
