"""The `usage-pipeline` command line: one thin module per command group."""
