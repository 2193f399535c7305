"""The pinned JVM artifact versions, read from deploy/pom.xml so there is one source of truth."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from jobs.paths import flink_lib_dir, jars_dir, plugins_dir, project_root

_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class PinnedVersions:
    flink: str
    kafka_connector: str
    kafka_broker: str
    # Our Redis hot sink (deploy/redis-sink/pom.xml): its own version and the Flink it is built against.
    redis_sink: str = ""
    redis_sink_flink: str = ""

    @property
    def connector_flink_minor(self) -> str:
        """The Flink minor a connector build targets: 5.0.0-2.2 -> 2.2."""
        return self.kafka_connector.rsplit("-", 1)[-1]

    @property
    def connector_jar(self) -> Path:
        return flink_lib_dir() / f"flink-sql-connector-kafka-{self.kafka_connector}.jar"

    @property
    def redis_sink_jar(self) -> Path:
        return flink_lib_dir() / f"streamsuite-redis-sink-{self.redis_sink}.jar"

    @property
    def s3_plugin_jar(self) -> Path:
        return plugins_dir() / "s3-fs-hadoop" / f"flink-s3-fs-hadoop-{self.flink}.jar"

    @property
    def kafka_broker_jar(self) -> Path:
        return jars_dir() / "kafka" / f"kafka_2.13-{self.kafka_broker}.jar"


def _pom_value(pom: Path, path: str) -> str:
    node = ET.parse(pom).getroot().find(path, _NS)
    if node is None or not (node.text or "").strip():
        raise ValueError(f"{pom} has no <{path.split(':')[-1]}>")
    return node.text.strip()


def pinned_versions(pom: Path | None = None) -> PinnedVersions:
    pom = pom or project_root() / "deploy" / "pom.xml"
    sink_pom = pom.parent / "redis-sink" / "pom.xml"

    def prop(name: str) -> str:
        return _pom_value(pom, f"m:properties/m:{name}")

    return PinnedVersions(prop("flink.version"), prop("kafka.connector.version"), prop("kafka.broker.version"),
                          _pom_value(sink_pom, "m:version"), _pom_value(sink_pom, "m:properties/m:flink.version"))
