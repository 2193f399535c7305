"""Read the jobs' cold output (Parquet on S3, or a local folder) the way an analyst would, with pyarrow."""
from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
from pyarrow import fs


def s3_filesystem(settings) -> fs.S3FileSystem:
    return fs.S3FileSystem(access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                           endpoint_override=f"{settings.host}:{settings.s3_port}", scheme="http",
                           region="us-east-1")


def cold_dataset(settings, path: str) -> ds.Dataset | None:
    """Finished part files only: names starting with '.' (in progress) or '_' (markers) are skipped.
    `path` is bucket/prefix/table on the stack's S3, or a local folder."""
    filesystem = fs.LocalFileSystem() if Path(path).is_dir() else s3_filesystem(settings)
    selector = fs.FileSelector(path, recursive=True, allow_not_found=True)
    if not [f for f in filesystem.get_file_info(selector) if f.type == fs.FileType.File]:
        return None
    return ds.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")


def read_cold_table(settings, path: str) -> list[dict]:
    dataset = cold_dataset(settings, path)
    return dataset.to_table().to_pylist() if dataset is not None else []
