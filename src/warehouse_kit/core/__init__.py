"""The engine: everything one run needs, and nothing built on top of it.

The file formats (`spec`, `project`), the engines (`backends`), sources,
operations (`transforms`), models and how they are planned (`catalog`, `dag`,
`planner`), the quality checks every run gates on (`quality`), the executor
and its strategies (`executor`, `strategies`, `materialize`), the run store
(`state`, `history`) and the runner. It imports nothing from
`warehouse_kit.analytics` or `warehouse_kit.apps` (`lint-imports` checks it).
"""
