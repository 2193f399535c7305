"""A real Flink standalone session cluster from the installed PyFlink: a Pushgateway, one JobManager, one TaskManager.

This is what `flink run` submits to: the same Flink release as the jobs' mini-cluster,
with our S3 plugin and Flink's metric reporters as plugins, every port on 127.0.0.1, and
config, logs, checkpoints and savepoints under `.run/cluster/`.

Metrics: Flink's pull reporter (`PrometheusReporter`, port 9249) has no bind-address option
and would listen on every interface, so the local cluster does not start it (the Kubernetes
manifests do). Instead the JobManager and TaskManager push every metric, ours included
(`flink_taskmanager_job_task_operator_streamsuite_events_dead_lettered`, ...), with Flink's
`PrometheusPushGatewayReporter` to a real Prometheus Pushgateway on 127.0.0.1
(`flink_pushgateway_port`, 9091), whose `/metrics` Prometheus (or a test) scrapes. The
Pushgateway binary is built by `make setup` into `.tools/bin/` (version pinned in
`deploy/tools/go.mod`).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from jobs.paths import job_jars, project_root, run_dir
from streamsuite.stack import ProcessGroup, Service, StackError, StackSettings, java_binary


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


def cluster_dir() -> Path:
    return run_dir() / "cluster"


def conf_dir() -> Path:
    return cluster_dir() / "conf"


def savepoint_dir() -> Path:
    return cluster_dir() / "savepoints"


def rest_url(settings: StackSettings) -> str:
    return f"http://{settings.host}:{settings.flink_rest_port}"


def pushgateway_url(settings: StackSettings) -> str:
    return f"http://{settings.host}:{settings.flink_pushgateway_port}"


def pushgateway_binary() -> Path:
    """Built by `make setup` (deploy/tools/go.mod pins the version); STREAMSUITE_PUSHGATEWAY overrides."""
    override = os.environ.get("STREAMSUITE_PUSHGATEWAY")
    return Path(override) if override else project_root() / ".tools" / "bin" / "pushgateway"


# The push reporter of the local cluster; its options are those of
# org.apache.flink.metrics.prometheus.PrometheusPushGatewayReporterOptions (flink-metrics-prometheus 2.2.0).
PUSH_REPORTER = "promgateway"
PUSH_JOB_NAME = "streamsuite-local"


def lib_dir() -> Path:
    """Flink's lib/, flink-python from opt/ (a cluster that runs Python jobs needs it) and our connector
    and Parquet jars.

    The jars are in the cluster's lib/, not shipped with each job: a session cluster gives every
    job a class loader of its own, and those were not collected: the TaskManager ran out of
    Metaspace after a dozen jobs and restarts in the fault matrix (hadoop-common, which Parquet
    needs, starts a static cleaner thread that is the usual culprit; with the jars here,
    Metaspace stayed flat). A job submitted with
    `flink run` ships only what lib/ lacks (`jobs.environment.jars_to_ship`).
    """
    folder = cluster_dir() / "lib"
    folder.mkdir(parents=True, exist_ok=True)
    jars = sorted((flink_home() / "lib").glob("*.jar")) + sorted((flink_home() / "opt").glob("flink-python-*.jar"))
    jars += job_jars()
    for jar in jars:
        link = folder / jar.name
        if link.is_symlink() and link.readlink() != jar:
            link.unlink()  # made for another jars folder (STREAMSUITE_JARS_DIR) or venv: follow this one
        if not link.exists():
            link.symlink_to(jar)
    return folder


def flink_environment() -> dict[str, str]:
    """What `bin/flink`, the JobManager and the TaskManager need: our conf, plugins, logs, venv Python."""
    from jobs.environment import flink_plugins_dir

    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update({
        "FLINK_HOME": str(flink_home()),
        "FLINK_CONF_DIR": str(conf_dir()),
        "FLINK_LOG_DIR": str(cluster_dir() / "log"),
        "FLINK_PLUGINS_DIR": str(flink_plugins_dir()),
        "FLINK_LIB_DIR": str(lib_dir()),
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
    })
    if "JAVA_HOME" not in env:
        env["JAVA_HOME"] = str(Path(os.path.realpath(java_binary())).parent.parent)
    return env


def write_configuration(settings: StackSettings) -> Path:
    """config.yaml for both processes and for `bin/flink` (which reads the REST address from it)."""
    folder = conf_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (cluster_dir() / "log").mkdir(parents=True, exist_ok=True)
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        shutil.copyfile(flink_home() / "conf" / name, folder / name)
    host = settings.host
    config = {
        "jobmanager.rpc.address": host,
        "jobmanager.rpc.port": settings.flink_rpc_port,
        "jobmanager.bind-host": host,
        "taskmanager.bind-host": host,
        "taskmanager.host": host,
        "rest.address": host,
        "rest.bind-address": host,
        "rest.port": settings.flink_rest_port,
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.memory.process.size": "2048m",
        "taskmanager.numberOfTaskSlots": 4,
        "parallelism.default": 1,
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "execution.checkpointing.dir": (cluster_dir() / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": savepoint_dir().as_uri(),
        "s3.endpoint": settings.s3_endpoint,
        "s3.path.style.access": True,
        "s3.access-key": settings.s3_access_key,
        "s3.secret-key": settings.s3_secret_key,
        "env.log.dir": str(cluster_dir() / "log"),
        # hadoop-common is in lib/ for Parquet (see lib_dir), which makes Flink try Hadoop's Kerberos
        # security context and fail loudly at start; the local cluster has no Kerberos to offer.
        "security.context.factory.classes": "org.apache.flink.runtime.security.contexts.NoOpSecurityContextFactory",
        "security.module.factory.classes": "org.apache.flink.runtime.security.modules.JaasModuleFactory",
        # Metrics pushed to the local Pushgateway (outgoing HTTP only, no listening port). Each JobManager
        # and TaskManager pushes its own group (job label streamsuite-local<random suffix>); groups of
        # stopped processes stay until the Pushgateway restarts, so select series by job_id.
        f"metrics.reporter.{PUSH_REPORTER}.factory.class":
            "org.apache.flink.metrics.prometheus.PrometheusPushGatewayReporterFactory",
        f"metrics.reporter.{PUSH_REPORTER}.hostUrl": pushgateway_url(settings),
        f"metrics.reporter.{PUSH_REPORTER}.jobName": PUSH_JOB_NAME,
        f"metrics.reporter.{PUSH_REPORTER}.randomJobNameSuffix": True,
        f"metrics.reporter.{PUSH_REPORTER}.deleteOnShutdown": False,
        f"metrics.reporter.{PUSH_REPORTER}.interval": "5 SECONDS",
        # Java 17 module opens the distribution's own config carries (Flink needs them everywhere).
        "env.java.opts.all": distribution_java_opts(),
    }
    path = folder / "config.yaml"
    path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items()))
    return path


def distribution_java_opts() -> str:
    import yaml

    shipped = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
    return shipped.get("env", {}).get("java", {}).get("opts", {}).get("all", "")


def get_json(url: str, timeout_s: float = 5):
    """One GET of Flink's REST API (or any JSON endpoint)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.load(response)


class Pushgateway(Service):
    """The Prometheus Pushgateway the cluster's reporter pushes to; its `/metrics` is what gets scraped."""

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.flink_pushgateway_port}

    def port_hint(self, role: str) -> str:
        return "STREAMSUITE_FLINK_PUSHGATEWAY_PORT"

    def describe(self) -> str:
        return f"metrics {pushgateway_url(self.settings)}/metrics"

    def command(self) -> list[str]:
        binary = pushgateway_binary()
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise StackError(f"the Prometheus Pushgateway {binary} is missing; run `make setup` (it builds the "
                             "version pinned in deploy/tools/go.mod with Go) or set STREAMSUITE_PUSHGATEWAY")
        # Metrics are kept in memory only: a restarted local cluster starts with an empty gateway.
        return [str(binary), f"--web.listen-address={self.settings.host}:{self.settings.flink_pushgateway_port}",
                "--log.level=info"]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{pushgateway_url(self.settings)}/-/ready", timeout=2) as response:
                return response.status == 200
        except Exception:
            return False


class FlinkProcess(Service):
    """A JobManager or TaskManager in the foreground, so the recorded PID is the JVM itself."""

    script = ""

    def ports(self) -> dict[str, int]:
        return {}

    def environment(self) -> dict[str, str]:
        return flink_environment()

    def command(self) -> list[str]:
        write_configuration(self.settings)
        return ["bash", str(flink_home() / "bin" / self.script), "start-foreground"]


class JobManager(FlinkProcess):
    script = "jobmanager.sh"

    def ports(self) -> dict[str, int]:
        return {"rest": self.settings.flink_rest_port, "rpc": self.settings.flink_rpc_port}

    def port_hint(self, role: str) -> str:
        return "STREAMSUITE_FLINK_REST_PORT" if role == "rest" else "STREAMSUITE_FLINK_RPC_PORT"

    def describe(self) -> str:
        return f"REST and web UI {rest_url(self.settings)}"

    def healthy(self) -> bool:
        try:
            return "flink-version" in get_json(f"{rest_url(self.settings)}/config", 2)
        except Exception:
            return False


class TaskManager(FlinkProcess):
    script = "taskmanager.sh"

    def describe(self) -> str:
        return "registered with the JobManager"

    def healthy(self) -> bool:
        try:
            return get_json(f"{rest_url(self.settings)}/overview", 2)["taskmanagers"] >= 1
        except Exception:
            return False


class FlinkCluster(ProcessGroup):
    """`streamsuite cluster up|down|status`."""

    @property
    def services(self) -> list[Service]:
        # The Pushgateway first: the reporters push from their first interval on.
        return [Pushgateway("pushgateway", self.settings, startup_timeout_s=30, group="cluster"),
                JobManager("jobmanager", self.settings, startup_timeout_s=90, group="cluster"),
                TaskManager("taskmanager", self.settings, startup_timeout_s=90, group="cluster")]

    def up(self) -> None:
        super().up()
        stale = self.stale_configuration()
        if stale:
            self.say(f"jobmanager: {stale}")

    def stale_configuration(self) -> str | None:
        """Why the running JobManager does not push to our Pushgateway (started before it was configured), or None."""
        try:
            config = {entry["key"]: entry["value"]
                      for entry in get_json(f"{rest_url(self.settings)}/jobmanager/config", 2)}
        except Exception:
            return None
        if config.get(f"metrics.reporter.{PUSH_REPORTER}.hostUrl") != pushgateway_url(self.settings):
            return ("running without the Pushgateway metric reporter (started with an older configuration); "
                    "restart the cluster when no job runs on it: `streamsuite cluster down` and `up`")
        return None


def flink_command(*args: str) -> list[str]:
    """`bin/flink` of the installed Flink, e.g. flink_command("run", "-d", "-py", ...)."""
    script = flink_home() / "bin" / "flink"
    if not script.exists():
        raise StackError(f"{script} is missing; reinstall apache-flink (`pip install -r requirements.txt`)")
    return ["bash", str(script), *args]


def run_flink(*args: str, timeout_s: float = 240) -> str:
    """`bin/flink <args>` against the local cluster, from the checkout; its output, or StackError
    with the end of it."""
    import subprocess

    result = subprocess.run(flink_command(*args), env=flink_environment(), capture_output=True, text=True,
                            timeout=timeout_s, cwd=project_root())
    if result.returncode != 0:
        raise StackError(f"flink {args[0]} failed: {(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def python_job_args(job_file: str, *job_args: str, savepoint: str | None = None) -> list[str]:
    """The `flink run` arguments for one of our jobs: detached, venv Python, jars from the job's config."""
    args = ["run", "--detached"]
    if savepoint:
        args += ["--fromSavepoint", savepoint]
    return args + ["--pyExecutable", sys.executable, "--pyClientExecutable", sys.executable,
                   "--python", job_file, *job_args]
