"""Wiring: typed settings and the `usage-pipeline` command line.

Every room is installed under this package, so this runs before any of them loads pyarrow.
Arrow's C++ code (the Parquet writer, the JSON reader, compression) allocates from the pool
this variable names, read once when pyarrow loads; ``pyarrow.set_memory_pool`` reaches only
pyarrow's own calls. Its default, mimalloc, keeps freed pages per thread: the sink peaked at
452-471 MiB with it against 380 with the system allocator (`bench/sink.py`, 1M records), and
wrote Parquet 1 us a row slower. An explicit setting in the environment wins.
"""

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
