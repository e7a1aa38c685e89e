"""Wiring: typed settings and the `usage-pipeline` command line."""
