"""Read the jobs' cold output (Parquet on the local S3) the way an analyst would, with pyarrow."""
from __future__ import annotations

import pyarrow.dataset as ds
from pyarrow import fs


def s3_filesystem(settings) -> fs.S3FileSystem:
    return fs.S3FileSystem(access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                           endpoint_override=f"{settings.host}:{settings.s3_port}", scheme="http",
                           region="us-east-1")


def read_cold_table(settings, path: str) -> list[dict]:
    """Finished part files only: names starting with '.' (in progress) or '_' (markers) are skipped."""
    filesystem = s3_filesystem(settings)
    selector = fs.FileSelector(path, recursive=True, allow_not_found=True)
    if not [f for f in filesystem.get_file_info(selector) if f.type == fs.FileType.File]:
        return []
    dataset = ds.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")
    return dataset.to_table().to_pylist()
