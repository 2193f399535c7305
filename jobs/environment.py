"""What a job's process needs before Flink runs it: the environment the JVM starts with, the
jars it ships, and the Flink configuration made from the typed config.

Nothing happens on import: the process is prepared when the first Flink configuration is built.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from jobs.config import JobConfig
from jobs.paths import KAFKA_CONNECTOR_JARS, flink_lib_dir, job_jars, plugins_dir, run_dir


class SetupError(RuntimeError):
    """The job cannot start (missing jar, bad environment); the message says how to fix it."""


def from_sink_jar(build):
    """`build(jvm.io.streamsuite)`: a sink of our own jar (deploy/redis-sink). py4j answers a class
    it cannot find with a package, whose call raises TypeError; that becomes the one sentence a user
    needs."""
    from pyflink.java_gateway import get_gateway

    try:
        return build(get_gateway().jvm.io.streamsuite)
    except TypeError as exc:
        raise SetupError("the streamsuite sink jar (streamsuite-redis-sink) is not on the class path; "
                         "run `streamsuite jars` (or `make setup`)") from exc


def prepare_process_environment() -> None:
    """Before the JVM gateway starts: plugin and log folders, and the venv's bin on PATH.

    `flink_configuration` calls it (idempotent) before it builds the first Java object, which
    starts the JVM, and the JVM reads these variables once. Thread mode embeds this interpreter in the JVM, which
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
    jars = job_jars()
    if not jars:
        raise SetupError(f"{flink_lib_dir() / KAFKA_CONNECTOR_JARS} is missing; "
                         "run `streamsuite jars` (or `make setup`) first")
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

    prepare_process_environment()
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
