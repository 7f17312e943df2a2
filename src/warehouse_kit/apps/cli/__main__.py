"""`python -m warehouse_kit.apps.cli`: the `wk` command."""

from warehouse_kit.apps.cli import main

main()
