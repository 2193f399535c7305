"""Checks that catch a broken set-up before a job starts and fails with a Java stack trace.

Each check returns problems as sentences that say how to fix them; none raises.
"""
from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Callable

from jobs.paths import jars_dir
from streamsuite.versions import PinnedVersions, pinned_versions

SUPPORTED_PYTHON = ((3, 10), (3, 11))
SUPPORTED_JAVA = (11, 17, 21)


def check_python() -> list[str]:
    version = sys.version_info[:2]
    if version not in SUPPORTED_PYTHON:
        wanted = " or ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHON)
        return [f"Python {version[0]}.{version[1]} is not supported by this PyFlink build; use Python {wanted}"]
    return []


def java_major(version_output: str) -> int | None:
    """The major version from `java -version` output ("1.8.0_x" -> 8, "17.0.15" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> list[str]:
    java = shutil.which("java")
    if not java:
        return ["java is not on PATH; install a Java 17 JDK (e.g. `apt-get install openjdk-17-jdk-headless`)"]
    output = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    major = java_major(output)
    if major not in SUPPORTED_JAVA:
        return [f"Java {major} is not supported by Flink; install Java 17 and put it first on PATH"]
    return []


def check_versions(pins: PinnedVersions) -> list[str]:
    problems = []
    try:
        pyflink = metadata.version("apache-flink")
    except metadata.PackageNotFoundError:
        return ["apache-flink is not installed; run `pip install -r requirements.txt`"]
    if pyflink != pins.flink:
        problems.append(f"apache-flink {pyflink} is installed but deploy/pom.xml pins Flink {pins.flink}; "
                        f"run `pip install apache-flink=={pins.flink}`")
    flink_minor = ".".join(pins.flink.split(".")[:2])
    if pins.connector_flink_minor != flink_minor:
        problems.append(f"the Kafka connector {pins.kafka_connector} is built for Flink {pins.connector_flink_minor}, "
                        f"not {flink_minor}; set kafka.connector.version in deploy/pom.xml to a -{flink_minor} build")
    if pins.redis_sink_flink != pins.flink:
        problems.append(f"the Redis hot sink is built against Flink {pins.redis_sink_flink}, not {pins.flink}; "
                        "set flink.version in deploy/redis-sink/pom.xml to the same release")
    if not pins.kafka_broker.startswith("4."):
        problems.append(f"the Kafka broker {pins.kafka_broker} is not a 4.x release; set kafka.broker.version to 4.x")
    return problems


def check_jars(pins: PinnedVersions) -> list[str]:
    problems = []
    for jar, what in ((pins.connector_jar, "the Kafka connector"),
                      (pins.redis_sink_jar, "the Redis hot sink"),
                      (pins.s3_plugin_jar, "the S3 filesystem plugin"),
                      (pins.kafka_broker_jar, "the Kafka broker")):
        if not jar.exists():
            problems.append(f"{what} jar is missing ({jar}); run `streamsuite jars`")
    stray = sorted((jars_dir() / "flink" / "lib").glob("flink-s3-fs-*.jar"))
    stray += sorted((jars_dir() / "flink" / "plugins").glob("*.jar"))
    for jar in stray:
        problems.append(f"{jar} is on a classpath folder; S3 filesystems load only as plugins, "
                        "in their own folder under .jars/flink/plugins/; delete it and run `streamsuite jars`")
    return problems


def check_protobuf() -> list[str]:
    problems = []
    from google.protobuf.internal import api_implementation

    backend = api_implementation.Type()
    if backend != "upb":
        problems.append(f"the protobuf backend is {backend!r}, about 40x slower than 'upb'; "
                        "unset PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION and reinstall protobuf from a wheel")
    try:
        from udfs.events import generated_modules

        for module in generated_modules():
            importlib.import_module(module)
    except Exception as exc:
        problems.append(f"the generated Protobuf code does not import with protobuf "
                        f"{metadata.version('protobuf')} ({exc}); run `streamsuite proto gen`")
        return problems
    try:
        from grpc_tools import protoc  # noqa: F401  the generator: a development tool, not in the image
    except ImportError:
        return problems
    from streamsuite.protogen import stale_files

    for name in stale_files():
        problems.append(f"proto/{name} is out of date with its .proto; run `streamsuite proto gen`")
    return problems


def run_checks() -> list[str]:
    pins = pinned_versions()
    checks: list[Callable[[], list[str]]] = [
        check_python, check_java, lambda: check_versions(pins), lambda: check_jars(pins), check_protobuf,
    ]
    return [problem for check in checks for problem in check()]
