"""Read the jobs' cold output (Parquet on the local S3) the way an analyst would, with pyarrow."""
from __future__ import annotations

from streamsuite.cold import read_cold_table, s3_filesystem  # noqa: F401 - what the tests read S3 with
