"""Event contracts: JSON Schema files and the validator every component shares."""
