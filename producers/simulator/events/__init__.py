"""Event dicts from sorted rows: ``batches`` drives, one module per event type builds them.

Each type's ``_prepare_*`` turns its rows into per-event value lists (numpy first, then
``.tolist()``); its ``_*_loop`` then assembles the dicts, a small batch at a time in time
order, so that the dicts being built and consumed stay in the CPU cache. The loops are the hot
path: one dict display per nested object, no attribute look-ups, no calls.
"""
