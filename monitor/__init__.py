"""monitor: a news monitor for US–Russia relations (ambassadors, prisoner swaps)."""

import os

__version__ = "0.1.0"

# numpy counts and hashes here, and never multiplies matrices; the OpenBLAS it carries starts a pool of threads as it
# is imported, which cost every monitor process and parsing worker 0.12 s of CPU. A value set by the user is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
