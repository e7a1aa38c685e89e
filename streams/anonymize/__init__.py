"""Pure anonymization functions, one module per policy action: no I/O, cached where useful."""
