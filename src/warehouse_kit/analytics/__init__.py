"""What is built on a warehouse: KPIs (`metrics`), A/B tests (`experiments`) and DDL
scripts (`ddl`). Imports the core only, never the apps (`lint-imports` checks it)."""
