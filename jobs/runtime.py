"""The Flink side every job shares: environment, Kafka source, decoding with dead letters,
the dead-letter sink, the cold (S3 Parquet) sink and metrics.

A job module only says what is specific to it: its event type, its keyed operator and
the rows it writes. Everything here is thin adaptation of `udfs` code to Flink.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from jobs import secrets
from jobs.config import JobConfig
from streamsuite.paths import run_dir
from streamsuite.versions import pinned_versions, plugins_dir

DEAD_LETTER_TAG_NAME = "dead-letters"


class SetupError(RuntimeError):
    """The job cannot start (missing jar, bad environment); the message says how to fix it."""


def prepare_process_environment() -> None:
    """Before the JVM gateway starts: plugin and log folders, and the venv's bin on PATH.

    Runs when this module is imported, because building any PyFlink type starts the JVM,
    which reads these variables once. Thread mode embeds this interpreter in the JVM, which
    finds `pemja` and `find_libpython` only when the venv's bin comes first on PATH.
    """
    import logging

    # apache-beam (under PyFlink) warns on import about optional cloud filesystems we never use.
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    log_dir = run_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FLINK_LOG_DIR", str(log_dir))
    if "LOG4J_PROPERTIES" not in os.environ:
        os.environ["LOG4J_PROPERTIES"] = str(_write_log_config())
    venv_bin = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(venv_bin + os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    # Locally PyFlink would otherwise start a Beam "loopback" worker pool (a gRPC server on
    # every interface) in this process; "process" starts Python workers as processes instead,
    # and thread mode needs neither.
    os.environ.setdefault("_python_worker_execution_mode", "process")
    import pyflink

    # Without FLINK_HOME, PyFlink's launcher resets FLINK_PLUGINS_DIR to its own folder.
    os.environ.setdefault("FLINK_HOME", str(Path(pyflink.__file__).parent))
    if "FLINK_PLUGINS_DIR" not in os.environ:
        os.environ["FLINK_PLUGINS_DIR"] = str(flink_plugins_dir())


def _write_log_config() -> Path:
    """Everything the local JVM logs goes to the log file; the console stays for our own lines."""
    path = run_dir() / "flink" / "log4j-local.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = FileAppender",
        "appender.file.name = FileAppender",
        "appender.file.type = FILE",
        "appender.file.append = false",
        "appender.file.fileName = ${sys:log.file}",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
        "logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline",
        "logger.netty.level = OFF",
        "",
    ]))
    return path


def flink_plugins_dir() -> Path:
    """Flink's bundled plugins (metrics reporters) plus ours (the S3 filesystem), as one folder of links."""
    import pyflink

    folder = run_dir() / "flink" / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [Path(pyflink.__file__).parent / "plugins", plugins_dir()]
    for source in sources:
        for plugin in sorted(p for p in source.glob("*") if p.is_dir()):
            link = folder / plugin.name
            if link.is_symlink() and link.resolve() != plugin.resolve():
                link.unlink()
            if not link.exists():
                link.symlink_to(plugin.resolve(), target_is_directory=True)
    return folder


def on_mini_cluster() -> bool:
    """True when this process runs the job on a local mini-cluster of its own; `flink run` and
    application mode start the Python driver with a gateway to their client JVM instead."""
    return "PYFLINK_GATEWAY_PORT" not in os.environ


def jars_to_ship(jars: Sequence[Path]) -> list[Path]:
    """The jars the job must bring: those the Flink that runs it lacks in its lib/.

    Under `flink run` and in application mode the Python driver talks to the client's JVM,
    whose class path is its distribution's lib/; a jar found there by name is on the cluster
    already (our local cluster, or an image that added it), and a second copy per job would
    only leak Metaspace in a session cluster. A local mini-cluster always ships them.
    """
    if on_mini_cluster():
        return list(jars)
    from pyflink.java_gateway import get_gateway

    class_path = get_gateway().jvm.System.getProperty("java.class.path") or ""
    present = {Path(entry).name for entry in class_path.split(os.pathsep)}
    return [jar for jar in jars if jar.name not in present]


def connector_jars() -> list[Path]:
    jars = pinned_versions().job_jars
    missing = [j for j in jars if not j.exists()]
    if missing:
        raise SetupError(f"{missing[0]} is missing; run `streamsuite jars` (or `make setup`) first")
    return jars


# What a cluster that forbids program configuration owns (execution.program-config.enabled: false,
# as the FlinkDeployments of deploy/k8s set): parallelism, key groups, checkpointing, state backend,
# restarts, network buffers, Python runtime and S3. The job leaves these to it; setting any of them
# to a value other than the cluster's would make Flink reject the job.
CLUSTER_OWNED_OPTIONS = ("parallelism.default", "pipeline.max-parallelism", "execution.checkpointing.",
                         "state.backend.", "restart-strategy.", "execution.buffer-timeout.", "python.execution-mode",
                         "python.executable", "python.client.executable", "s3.")


def cluster_owns_settings() -> bool:
    """True under `flink run` or in application mode when the cluster disables program
    configuration. A local mini-cluster and a cluster that allows it take the job's settings."""
    if on_mini_cluster():
        return False
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    cluster = jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment.getExecutionEnvironment()
    return not cluster.getConfiguration().get(jvm.org.apache.flink.configuration.DeploymentOptions.PROGRAM_CONFIG_ENABLED)


def flink_configuration(config: JobConfig, jars: Sequence[Path]):
    from pyflink.common import Configuration

    conf = Configuration()
    for key, value in flink_settings(config, jars).items():
        conf.set_string(key, value)
    return conf


def flink_settings(config: JobConfig, jars: Sequence[Path]) -> dict[str, str]:
    """Checkpointing, state, restarts, Python and S3 settings for the job, from one typed config;
    on a cluster that owns those (cluster_owns_settings), only what is the job's own."""
    c = config.checkpoint
    r = config.runtime
    settings = {
        "pipeline.name": r.job_name,
        "parallelism.default": str(r.parallelism),
        # Fixed, so a savepoint taken at any parallelism restores at any other (up to this).
        "pipeline.max-parallelism": "128",
        "execution.checkpointing.interval": f"{c.interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.timeout": f"{c.timeout_ms} ms",
        "execution.checkpointing.min-pause": f"{c.min_pause_ms} ms",
        "execution.checkpointing.tolerable-failed-checkpoints": str(c.tolerable_failures),
        "execution.checkpointing.dir": config.checkpoint_directory,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.backend.type": c.state_backend,
        "state.backend.incremental": str(c.state_backend == "rocksdb").lower(),
        **r.restart_strategy(),
        "execution.buffer-timeout.interval": f"{r.buffer_timeout_ms} ms",
        "python.execution-mode": r.python_mode,
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        # Small bundles: results leave the Python operator within milliseconds, not seconds.
        "python.fn-execution.bundle.size": "500",
        "python.fn-execution.bundle.time": "5",
        "s3.endpoint": config.s3.endpoint,
        "s3.path.style.access": str(config.s3.path_style_access).lower(),
    }
    if on_mini_cluster():
        # The S3 file system is this process's JVM's own; on a cluster the keys are the cluster's
        # (its Flink configuration or the pods' AWS variables), never sent with the job.
        settings["s3.access-key"] = config.s3.access_key
        settings["s3.secret-key"] = config.s3.secret_key
        # Every endpoint the mini-cluster opens (REST, RPC, blob, data) on loopback only.
        settings.update({
            "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1",
            "jobmanager.rpc.address": "127.0.0.1", "jobmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
        })
    shipped = jars_to_ship(jars)
    if shipped:
        settings["pipeline.jars"] = ";".join(j.as_uri() for j in shipped)
    if cluster_owns_settings():
        settings = {key: value for key, value in settings.items() if not key.startswith(CLUSTER_OWNED_OPTIONS)}
    settings.update(config.flink)
    return settings


def execution_environment(config: JobConfig):
    from pyflink.datastream import StreamExecutionEnvironment

    conf = flink_configuration(config, connector_jars())
    if on_mini_cluster():
        _initialize_filesystems(conf)
    return StreamExecutionEnvironment.get_execution_environment(conf)


def _initialize_filesystems(conf) -> None:
    """Load the filesystem plugins (s3a) with our S3 settings in the local gateway JVM.

    A local mini-cluster runs inside that JVM, which never loads plugins by itself. On a real
    cluster the JobManager and TaskManagers do it at start, so this is never called there.
    """
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    plugins = jvm.org.apache.flink.core.plugin.PluginUtils.createPluginManagerFromRootFolder(conf._j_configuration)
    jvm.org.apache.flink.core.fs.FileSystem.initialize(conf._j_configuration, plugins)


def kafka_client_properties(config: JobConfig) -> dict[str, str]:
    """Security properties of every Kafka client of the job; secrets stay references (jobs.secrets)
    that Kafka's config providers resolve where the client is created."""
    k = config.kafka
    props = {"security.protocol": k.security_protocol}
    if k.sasl_mechanism:
        # The connector jar shades Kafka: its login modules live under the shaded package.
        module = (f"{secrets.SHADED_KAFKA}.common.security.scram.ScramLoginModule" if k.sasl_mechanism.startswith("SCRAM")
                  else f"{secrets.SHADED_KAFKA}.common.security.plain.PlainLoginModule")
        password = secrets.reference(config, "kafka.sasl_password")
        # A resolved reference lands inside the quotes as it is: Kafka substitutes before it parses.
        quoted = f'"{password.kafka_placeholder()}"' if password else secrets.jaas_quoted(k.sasl_password)
        props["sasl.mechanism"] = k.sasl_mechanism
        props["sasl.jaas.config"] = f"{module} required username={secrets.jaas_quoted(k.sasl_username)} password={quoted};"
    if k.security_protocol in ("SSL", "SASL_SSL"):
        props["ssl.endpoint.identification.algorithm"] = k.ssl_endpoint_identification_algorithm
        for store in ("truststore", "keystore"):
            location = getattr(k, f"ssl_{store}_location")
            if location:
                props[f"ssl.{store}.location"] = location
            kind = getattr(k, f"ssl_{store}_type")
            if kind:
                props[f"ssl.{store}.type"] = kind
        for key in ("ssl_truststore_password", "ssl_keystore_password", "ssl_key_password"):
            ref = secrets.reference(config, f"kafka.{key}")
            if ref:
                props[key.replace("_", ".")] = ref.kafka_placeholder()
    if any("${" in v for v in props.values()):
        props.update(secrets.KAFKA_CONFIG_PROVIDERS)
    return props


def _kafka_security(builder, config: JobConfig):
    for key, value in kafka_client_properties(config).items():
        builder = builder.set_property(key, value)
    return builder


def _kafka_source(config: JobConfig, topic: str, starting: str):
    """An exactly-once Kafka source of raw record values; offsets live in checkpoints."""
    from pyflink.common.serialization import ByteArraySchema
    from pyflink.datastream.connectors.kafka import KafkaOffsetResetStrategy, KafkaOffsetsInitializer, KafkaSource

    k = config.kafka
    offsets = {
        "earliest": KafkaOffsetsInitializer.earliest,
        "latest": KafkaOffsetsInitializer.latest,
        "committed": lambda: KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST),
    }[starting]()
    builder = (KafkaSource.builder()
               .set_bootstrap_servers(k.bootstrap_servers)
               .set_topics(topic)
               .set_group_id(k.group_id)
               .set_starting_offsets(offsets)
               .set_value_only_deserializer(ByteArraySchema())
               .set_property("isolation.level", "read_committed")
               .set_property("partition.discovery.interval.ms", "0" if k.bounded else "60000"))
    if k.bounded:
        builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
    return _kafka_security(builder, config).build()


def kafka_bytes(env, config: JobConfig):
    """Raw record values from the input topic; offsets live in checkpoints.

    Event time is the Kafka record timestamp, which producers set to the event's
    `event_time_ms` (the generator does). Watermarks are made per partition inside the
    source, so one partition read ahead of another never makes the other's events late,
    and an idle partition stops holding the watermark back after `idleness_ms`.
    """
    from pyflink.common import Duration, WatermarkStrategy

    k = config.kafka
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(k.max_out_of_orderness_ms))
                  .with_idleness(Duration.of_millis(k.idleness_ms)))
    return env.from_source(_kafka_source(config, k.input_topic, k.starting_offsets), watermarks,
                           f"kafka:{k.input_topic}").uid(f"{config.job}-kafka-source")


def kafka_rules_bytes(env, config: JobConfig):
    """Raw records of the rules topic, from its beginning on a fresh start (the rule book needs all
    of them; a restore resumes at the checkpoint's offsets), bounded like the input.

    No watermarks: the rules never hold back event time; when a bounded run ends the source's
    final watermark still tells the operator that every rule set has been read.
    """
    from pyflink.common import WatermarkStrategy

    topic = config.rules.topic
    return env.from_source(_kafka_source(config, topic, "earliest"), WatermarkStrategy.no_watermarks(),
                           f"kafka:{topic}").uid(f"{config.job}-rules-source")


@dataclass(frozen=True)
class DecodedStreams:
    # Valid events as (key, event_time_ms, raw bytes), keyed by the entity key.
    events: object
    dead_letters: object


def decode(stream, config: JobConfig, event_type: str) -> DecodedStreams:
    """Decode + validate in one Python step, keyed by the entity; failures become DeadLetter
    records on a side output.

    The step emits each event already as the `Row(key, event)` that PyFlink's `key_by` would
    build in a Python operator of its own, and the stream is keyed on that row in the JVM:
    one Python call per event fewer (a side output keeps the two steps from being fused).
    """
    from pyflink.common import Types
    from pyflink.datastream import OutputTag

    from jobs.operators import DecodeEvents

    tag = OutputTag(DEAD_LETTER_TAG_NAME, Types.PRIMITIVE_ARRAY(Types.BYTE()))
    event = Types.TUPLE([Types.STRING(), Types.LONG(), Types.PRIMITIVE_ARRAY(Types.BYTE())])
    with_key = stream.process(
        DecodeEvents(event_type, config.kafka.input_topic, config.job, tag, config.kafka.max_event_time_skew_ms),
        output_type=Types.ROW([Types.STRING(), event])
    ).name("decode+validate").uid(f"{config.job}-decode")
    return DecodedStreams(keyed_in_the_jvm(with_key, event), side_output(with_key, tag))


def keyed_in_the_jvm(with_key, event_type):
    """A stream of `Row(key, event)` keyed on its first field by the JVM, as PyFlink's `key_by` would
    after a Python operator of its own; the keyed operator receives `event`."""
    from pyflink.common import Types
    from pyflink.datastream import KeyedStream
    from pyflink.java_gateway import get_gateway

    key_selector = get_gateway().jvm.KeyByKeySelector()
    return KeyedStream(with_key._j_data_stream.keyBy(key_selector, Types.ROW([Types.STRING()]).get_java_type_info()),
                       event_type, with_key)


def side_output(stream, tag):
    """A Python operator's side output, straight from the JVM operator.

    PyFlink's `get_side_output` appends a Python identity `map` (`lambda i: i`), which sends
    every side-output record into Python and back once more; the records are already typed
    by the tag, so the JVM stream is used as it is.
    """
    from pyflink.datastream import DataStream

    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))


def kafka_bytes_sink(stream, config: JobConfig, topic: str, name: str) -> None:
    """Exactly-once Kafka sink of raw values (a transaction per checkpoint)."""
    from pyflink.common.serialization import ByteArraySchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

    k = config.kafka
    serializer = (KafkaRecordSerializationSchema.builder().set_topic(topic)
                  .set_value_serialization_schema(ByteArraySchema()).build())
    builder = (KafkaSink.builder().set_bootstrap_servers(k.bootstrap_servers)
               .set_record_serializer(serializer)
               .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
               # Unique per deployment (the consumer group is), stable across its restarts: two jobs
               # sharing a prefix fence each other's transactions and lose dead letters.
               .set_transactional_id_prefix(f"{k.group_id}-{name}")
               .set_property("transaction.timeout.ms", str(k.transaction_timeout_ms)))
    stream.sink_to(_kafka_security(builder, config).build()).name(f"kafka:{topic}").uid(f"{config.job}-{name}-sink")


def keyed_operator_sinks(keyed, decoded: DecodedStreams, config: JobConfig, *more_dead_letters) -> None:
    """What every keyed operator (`jobs.operators.HotResultFunction`) emits besides its own rows:
    its hot rows to the JVM Redis sink, and its dead letters with decode's (and any others the job
    has) to the dead-letter topic."""
    from jobs.hot_sink import HOT, redis_hot_sink
    from jobs.operators import DEAD_LETTERS

    redis_hot_sink(side_output(keyed, HOT), config)
    dead_letter_sink(config, decoded.dead_letters, side_output(keyed, DEAD_LETTERS), *more_dead_letters)


def dead_letter_sink(config: JobConfig, dead_letters, *more) -> None:
    """All of a job's dead letters (undecodable input, late events) to one exactly-once topic."""
    stream = dead_letters.union(*more) if more else dead_letters
    kafka_bytes_sink(stream, config, config.kafka.dead_letter_topic, "dead-letters")


prepare_process_environment()


def now_ms() -> int:
    return int(time.time() * 1000)


_FLINK_TYPES = {"STRING": "STRING", "BIGINT": "LONG", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN", "INT": "INT"}


@dataclass(frozen=True)
class Columns:
    """The columns of a cold table, usable as a DataStream row type and as SQL DDL."""

    items: tuple

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items]

    def row_type(self):
        from pyflink.common import Types

        return Types.ROW_NAMED(self.names, [getattr(Types, _FLINK_TYPES[t])() for _, t in self.items])

    def ddl(self) -> str:
        return ", ".join(f"`{name}` {sql}" for name, sql in self.items)


def columns(*items: tuple[str, str]) -> Columns:
    unknown = [t for _, t in items if t not in _FLINK_TYPES]
    if unknown:
        raise ValueError(f"unsupported column type(s) {unknown}")
    return Columns(tuple(items))


class ColdSink:
    """Cold rows as Parquet on S3 (`s3a://`), partitioned by event date, committed on checkpoint.

    Uses Flink's filesystem table connector: unlike the DataStream FileSink in Python it can
    partition by a column (`dt`), and its part files become visible only when the
    checkpoint that covers them completes.
    """

    def __init__(self, env, config: JobConfig):
        self.config = config
        self.enabled = config.s3.enabled
        self.statements = None
        if self.enabled:
            from pyflink.table import StreamTableEnvironment

            self.t_env = StreamTableEnvironment.create(env)
            # Explicit uids for the file writer and partition committer (both keep state): the ids Flink
            # hashes otherwise depend on chaining, which changes with parallelism (the committer runs at
            # 1), so a savepoint taken at parallelism 1 could not be restored at 2. The writer runs at 1
            # too (`sink.parallelism` below) so the committer is chained to it at every parallelism:
            # otherwise its max parallelism (the chain's) differs between the two and the restore fails.
            self.t_env.get_config().set("table.exec.uid.generation", "ALWAYS")
            self.statements = self.t_env.create_statement_set()

    def uri(self, table: str) -> str:
        return f"{self.config.cold_base_uri}/{table}"

    def add(self, table: str, stream, cols: Columns) -> None:
        if not self.enabled:
            # The operator still emits these rows; a side output nobody reads is unknown to it and fails the job.
            from pyflink.java_gateway import get_gateway

            discard = get_gateway().jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()
            stream._j_data_stream.sinkTo(discard).name(f"discard:{table}")
            return
        name = f"{self.config.job}_{table}"
        self.t_env.execute_sql(f"""
            CREATE TEMPORARY TABLE `{name}` ({cols.ddl()}) PARTITIONED BY (`dt`) WITH (
              'connector' = 'filesystem',
              'path' = '{self.uri(table)}',
              'format' = 'parquet',
              'parquet.compression' = 'SNAPPY',
              'sink.parallelism' = '1',
              'sink.rolling-policy.file-size' = '128MB',
              'sink.partition-commit.policy.kind' = 'success-file'
            )""")
        self.statements.add_insert(name, self.t_env.from_data_stream(_own_task(stream)))

    def attach(self) -> None:
        if self.enabled:
            self.statements.attach_as_datastream()


def _own_task(stream):
    """The stream handed to a task of its own, so Parquet encoding runs beside the keyed operator,
    not on its thread (a non-forward partitioner ends the operator chain)."""
    from pyflink.datastream import DataStream

    return DataStream(stream._j_data_stream.rebalance())


def check_services(config: JobConfig) -> list[str]:
    """Reach Kafka, Redis and S3 before starting Flink, so a service that is down is one clear line."""
    problems = _check_kafka(config)
    import redis

    where = secrets.redact_url(config.redis.url)
    try:
        redis.Redis.from_url(config.redis.url, password=secrets.value_here(config, "redis.password"),
                             socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis is not reachable at {where} ({exc.__class__.__name__}); start it "
                        "or set redis.url (and redis.password)")
    if config.s3.enabled:
        problems += _check_bucket(config)
    return problems


def _check_kafka(config: JobConfig) -> list[str]:
    """The topics exist. Over TLS or SASL only the brokers' ports are tried: the check's client
    (librdkafka) reads neither JKS truststores nor secrets that only the TaskManagers can see."""
    k = config.kafka
    ref = secrets.reference(config, "kafka.sasl_password") if k.sasl_mechanism else None
    if ref and not secrets.is_handed_over(ref) and any(c in (ref.resolve() or "") for c in '"\\'):
        return [f"the password {ref} names contains a quote or backslash, which Kafka would place into the JAAS "
                "line unescaped; store it escaped (\\\" and \\\\) or choose another password"]
    if k.security_protocol != "PLAINTEXT":
        return [] if any(_port_open(server) for server in k.bootstrap_servers.split(",")) else [
            f"no Kafka broker answers at {k.bootstrap_servers}; start it or set kafka.bootstrap_servers"]
    from confluent_kafka.admin import AdminClient

    try:
        metadata = AdminClient({"bootstrap.servers": k.bootstrap_servers, "log_level": 0,
                                "socket.timeout.ms": 5000}).list_topics(timeout=5)
    except Exception:
        return [f"Kafka is not reachable at {k.bootstrap_servers}; start it (`streamsuite stack up`) "
                "or set kafka.bootstrap_servers"]
    return [f"Kafka topic {topic} does not exist on {k.bootstrap_servers}; create it (or run `streamsuite stack up`)"
            for topic in (k.input_topic, k.dead_letter_topic, *((config.rules.topic,) if config.rules.enabled else ()))
            if topic not in metadata.topics]


def _port_open(server: str) -> bool:
    import socket

    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return True
    except (OSError, ValueError):
        return False


def _check_bucket(config: JobConfig) -> list[str]:
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=config.s3.endpoint, aws_access_key_id=config.s3.access_key,
                      aws_secret_access_key=config.s3.secret_key, region_name="us-east-1",
                      config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}))
    try:
        s3.head_bucket(Bucket=config.s3.bucket)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)
        if code in ("404", "NoSuchBucket"):
            return [f"S3 bucket {config.s3.bucket} does not exist at {config.s3.endpoint}; create it or set s3.bucket"]
        return [f"S3 is not reachable at {config.s3.endpoint} with the configured keys ({code}); start it "
                "(`streamsuite stack up`), fix s3.access_key/s3.secret_key, or set s3.enabled=false"]
    return []


def root_cause(exc: BaseException) -> str:
    """The innermost Java cause of a failed job, as one line."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
    cause = java
    while cause.getCause() is not None and cause.getCause() is not cause:
        cause = cause.getCause()
    return cause.toString().splitlines()[0]


def run_job(job: str, module: str, model, build, argv: Sequence[str] | None = None) -> int:
    """The command line every job shares: config layering, service checks, run, one-line errors."""
    import argparse

    from jobs.config import ConfigError, defaults, load

    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=f"Run the {job} job.")
    parser.add_argument("--config", help="TOML config file (layered over the defaults, under env and --set)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set kafka.bootstrap_servers=host:9092")
    parser.add_argument("--bounded", action="store_true",
                        help="stop at the input's latest offsets at start (tests, backfills)")
    parser.add_argument("--parallelism", type=int, help="operator parallelism (runtime.parallelism)")
    parser.add_argument("--skip-service-check", action="store_true",
                        help="do not check Kafka, Redis and S3 before starting")
    args = parser.parse_args(argv)
    overrides = list(args.overrides)
    if args.bounded:
        overrides.append("kafka.bounded=true")
    if args.parallelism is not None:
        overrides.append(f"runtime.parallelism={args.parallelism}")
    try:
        config = load(defaults(job, model), args.config, overrides=overrides)
        # Before the JVM starts: a local TaskManager inherits this process's environment.
        config = secrets.for_task_managers(config, local=on_mini_cluster())
    except (ConfigError, secrets.SecretError) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    if not args.skip_service_check:
        problems = check_services(config)
        for problem in problems:
            print(f"{parser.prog}: {problem}", file=sys.stderr)
        if problems:
            return 1
    try:
        env = execution_environment(config)
        build(env, config)
        mode = "bounded" if config.kafka.bounded else "unbounded"
        print(f"{config.runtime.job_name}: running ({mode}) from {config.kafka.input_topic} at "
              f"{config.kafka.bootstrap_servers}; logs in {os.environ.get('FLINK_LOG_DIR')}", flush=True)
        t0 = time.monotonic()
        result = env.execute(config.runtime.job_name)
    except SetupError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"{parser.prog}: the job failed: {root_cause(exc)} (logs in {os.environ.get('FLINK_LOG_DIR')})",
              file=sys.stderr)
        return 1
    if _detached(result):
        print(f"{config.runtime.job_name}: submitted as job {result.get_job_id()} (detached)", flush=True)
    else:
        print(f"{config.runtime.job_name}: finished in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


def _detached(result) -> bool:
    """`flink run --detached` hands back a result that has no runtime yet."""
    try:
        result.get_net_runtime()
        return False
    except Exception:
        return True
