"""What people use: the `wk` command line (`cli`), notebook helpers (`notebook`,
`notebooks_refresh`), charts, reports and dashboards. Built on the core and the
analytics; nothing imports the apps."""
