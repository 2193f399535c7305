"""Where a job finds its run folder and the JVM jars it ships.

The jobs read these from the environment alone (`STREAMSUITE_HOME`, `STREAMSUITE_RUN_DIR`,
`STREAMSUITE_JARS_DIR`; the image sets them), so the deployed code needs neither the dev
tooling nor the pom: which versions the jars are is `streamsuite.versions`' business.
"""
from __future__ import annotations

import os
from pathlib import Path

KAFKA_CONNECTOR_JARS = "flink-sql-connector-kafka-*.jar"


def project_root() -> Path:
    """The checkout (or the image's app folder) that holds `deploy/pom.xml`."""
    override = os.environ.get("STREAMSUITE_HOME")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "deploy" / "pom.xml").exists():
        return here
    return Path.cwd().resolve()


def run_dir() -> Path:
    """Everything made at run time lives under this one git-ignored folder (`.run/`)."""
    return Path(os.environ.get("STREAMSUITE_RUN_DIR", project_root() / ".run")).resolve()


def jars_dir() -> Path:
    return Path(os.environ.get("STREAMSUITE_JARS_DIR", project_root() / ".jars")).resolve()


def flink_lib_dir() -> Path:
    """The jars a job needs on Flink's class path (connector, Parquet, the Redis hot sink)."""
    return jars_dir() / "flink" / "lib"


def plugins_dir() -> Path:
    return jars_dir() / "flink" / "plugins"


def job_jars() -> list[Path]:
    """The jars of `flink_lib_dir`, the Kafka connector first; empty without a connector."""
    folder = flink_lib_dir()
    connectors = sorted(folder.glob(KAFKA_CONNECTOR_JARS))
    if not connectors:
        return []
    return connectors[:1] + sorted(p for p in folder.glob("*.jar") if p != connectors[0])
