"""2b. The 1,000,000-recipient figures of batch creation (see
``bench/batch_create.py``): peak memory at 10,000 and 1,000,000 recipients
and a 1,000,000-line CSV file through the console form."""

from bench.batch_create import run_large as run

__all__ = ["run"]
