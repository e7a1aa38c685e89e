"""`python -m usage_pipeline` runs the command line."""

from usage_pipeline.cli.main import main

main()
