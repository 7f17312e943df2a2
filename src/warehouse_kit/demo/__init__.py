"""Generators of the example data: the retail seed CSVs (`retail`: batch 1, `changes`:
batch 2) and the A/B test logs (`experiments`). Deterministic for a seed; kept out of the
library's core."""

from warehouse_kit.demo.changes import generate_changes
from warehouse_kit.demo.retail import generate

__all__ = ["generate", "generate_changes"]
