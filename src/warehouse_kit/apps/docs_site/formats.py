"""How the data dictionary writes its numbers, the same on the page and in Markdown."""

from __future__ import annotations


def count(value: int | None) -> str:
    """``1,097``; an em dash when there is none."""
    return "—" if value is None else f"{value:,}"


def share(value: float | None) -> str:
    """``2.5%``; ``0%`` only when there are none, ``<0.1%`` when there are a few."""
    if value is None:
        return "—"
    if value == 0:
        return "0%"
    return "<0.1%" if value < 0.001 else f"{value:.1%}"
