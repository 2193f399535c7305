"""One typed config per job, layered: defaults -> TOML file -> environment -> command line.

Every key has a dotted name (`kafka.bootstrap_servers`, `checkpoint.interval_ms`,
`model.weights.velocity_1m`). The same name works in the file (as TOML tables), in the
environment (`STREAMSUITE_KAFKA__BOOTSTRAP_SERVERS`, double underscore between parts)
and on the command line (`--set kafka.bootstrap_servers=host:9092`). Values are checked
when the job starts; a wrong one stops it with a sentence naming the key and its source.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from jobs.secrets import SECRET_KEYS, SecretError, redact_url, reference
from jobs.specs import COLD_BUCKET, JOBS
from jobs.paths import run_dir

ENV_PREFIX = "STREAMSUITE_"


class ConfigError(ValueError):
    """A bad configuration value; the message names the key and where it came from."""


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    input_topic: str = ""
    dead_letter_topic: str = ""
    group_id: str = ""
    # earliest | latest | committed (committed offsets, else earliest)
    starting_offsets: str = "committed"
    # Stop at the offsets that are latest when the job starts (tests, backfills).
    bounded: bool = False
    max_out_of_orderness_ms: int = 5_000
    # An event dated further than this after its Kafka record timestamp is a dead letter.
    max_event_time_skew_ms: int = 86_400_000
    idleness_ms: int = 30_000
    # Must stay under the broker's transaction.max.timeout.ms (15 min by default).
    transaction_timeout_ms: int = 600_000
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    # Secrets (this and the *_password keys below): env:NAME or file:/path, resolved on the
    # TaskManager (see jobs/secrets.py); a literal only on the local mini-cluster.
    sasl_password: str = ""
    # TLS (security_protocol SSL or SASL_SSL): a truststore for the brokers' certificates and,
    # for mutual TLS, a keystore. Types JKS, PKCS12 or PEM; empty location = the JVM's defaults.
    ssl_truststore_location: str = ""
    ssl_truststore_type: str = ""
    ssl_truststore_password: str = ""
    ssl_keystore_location: str = ""
    ssl_keystore_type: str = ""
    ssl_keystore_password: str = ""
    ssl_key_password: str = ""
    # "https" checks the broker's host name against its certificate; "" turns that off.
    ssl_endpoint_identification_algorithm: str = "https"


@dataclass(frozen=True)
class RedisConfig:
    url: str = "redis://127.0.0.1:6379/0"
    # A secret: env:NAME or file:/path (jobs/secrets.py); wins over a password in the URL,
    # which only the local mini-cluster accepts.
    password: str = ""
    key_prefix: str = ""
    # A batch of hot upserts leaves at this many records or when its first has waited this long.
    batch_max_records: int = 500
    batch_max_delay_ms: int = 2
    # Batches queued or being written at once; past that the job is back-pressured.
    max_in_flight_batches: int = 4
    # While Redis is unreachable a batch is retried with exponential backoff between these delays;
    # after max_outage_ms without success the job fails (and its restart strategy takes over).
    retry_initial_ms: int = 50
    retry_max_ms: int = 5_000
    max_outage_ms: int = 600_000
    timeout_ms: int = 10_000


@dataclass(frozen=True)
class S3Config:
    endpoint: str = "http://127.0.0.1:8333"
    bucket: str = COLD_BUCKET
    prefix: str = ""
    access_key: str = "streamsuite"
    secret_key: str = "streamsuite-secret"
    path_style_access: bool = True
    # Empty turns the cold sink off (e.g. a Redis-only benchmark arm).
    enabled: bool = True


@dataclass(frozen=True)
class RulesConfig:
    """Rule sets read from a control topic while the job runs (fraud: `udfs.fraud_rules`).

    Off, the job scores with its configured model (version 0) throughout. On, a transaction is
    scored with the version in force at its event time, and waits until the rules topic has
    shown that version (a rule set or horizon at or past its event time), so a replay scores it
    the same: whoever publishes rules must also keep the horizon ahead (`streamsuite rules`).
    """

    enabled: bool = False
    topic: str = ""
    # How often a card with held transactions looks again whether their rules are known.
    recheck_ms: int = 100


@dataclass(frozen=True)
class CheckpointConfig:
    interval_ms: int = 2_000
    timeout_ms: int = 120_000
    min_pause_ms: int = 500
    # Checkpoints that may fail (or expire) in a row before the job restarts. While Redis is down
    # the hot sink holds the barrier (it must not checkpoint unwritten upserts) for up to
    # redis.max_outage_ms; 5 x timeout_ms covers that default, so an outage stalls the job
    # instead of restarting it again and again.
    tolerable_failures: int = 5
    # hashmap (heap, fastest) | rocksdb (large state, incremental)
    state_backend: str = "hashmap"
    # Where checkpoints go; empty means file://.run/checkpoints/<job>.
    directory: str = ""


@dataclass(frozen=True)
class RuntimeConfig:
    parallelism: int = 1
    # -1: restart without limit, the delay growing from restart_delay_ms to restart_max_delay_ms
    # (exponential-delay, Flink's own default), so a job outlives an outage of its services;
    # 0 or more: at most that many restarts, restart_delay_ms apart (tests, bounded runs).
    restart_attempts: int = -1
    restart_delay_ms: int = 2_000
    restart_max_delay_ms: int = 60_000
    # thread (in-JVM Python, fastest) | process (a Python worker process beside the JVM)
    python_mode: str = "thread"
    job_name: str = ""
    # Longest time a network buffer waits to fill before it is sent on (Flink's default is 100 ms,
    # which alone would spend the fraud job's 50 ms latency budget twice).
    buffer_timeout_ms: int = 5

    def restart_strategy(self) -> dict[str, str]:
        """The Flink options of the restart strategy these settings choose."""
        if self.restart_attempts < 0:
            return {"restart-strategy.type": "exponential-delay",
                    "restart-strategy.exponential-delay.initial-backoff": f"{self.restart_delay_ms} ms",
                    "restart-strategy.exponential-delay.max-backoff": f"{self.restart_max_delay_ms} ms",
                    "restart-strategy.exponential-delay.attempts-before-reset-backoff": str(2**31 - 1)}
        return {"restart-strategy.type": "fixed-delay",
                "restart-strategy.fixed-delay.attempts": str(self.restart_attempts),
                "restart-strategy.fixed-delay.delay": f"{self.restart_delay_ms} ms"}


_CHOICES = {
    "kafka.starting_offsets": ("earliest", "latest", "committed"),
    "kafka.security_protocol": ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    "checkpoint.state_backend": ("hashmap", "rocksdb"),
    "runtime.python_mode": ("thread", "process"),
    "kafka.ssl_truststore_type": ("", "JKS", "PKCS12", "PEM"),
    "kafka.ssl_keystore_type": ("", "JKS", "PKCS12", "PEM"),
    "kafka.ssl_endpoint_identification_algorithm": ("", "https"),
}
_POSITIVE = ("rules.recheck_ms", "checkpoint.interval_ms", "checkpoint.timeout_ms", "runtime.parallelism", "redis.batch_max_records",
             "redis.max_in_flight_batches", "redis.retry_initial_ms", "redis.retry_max_ms", "redis.timeout_ms")
_NON_NEGATIVE = ("checkpoint.tolerable_failures", "redis.batch_max_delay_ms", "redis.max_outage_ms", "kafka.max_event_time_skew_ms")


@dataclass(frozen=True)
class JobConfig:
    """The settings every job has, plus `model`: the job's own domain settings."""

    job: str
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    s3: S3Config = field(default_factory=S3Config)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    model: Any = None
    # Any other Flink option, passed through as is (e.g. flink.metrics.reporter.prom.port=9249).
    flink: Mapping[str, str] = field(default_factory=dict)

    @property
    def checkpoint_directory(self) -> str:
        return self.checkpoint.directory or (run_dir() / "checkpoints" / self.job).as_uri()

    @property
    def cold_base_uri(self) -> str:
        prefix = (self.s3.prefix or self.job).strip("/")
        return f"s3a://{self.s3.bucket}/{prefix}"


def defaults(job: str, model: Any) -> JobConfig:
    """The defaults of a job: topics and prefixes from its spec (`jobs.specs`)."""
    spec = JOBS[job]
    return JobConfig(
        job=job,
        kafka=KafkaConfig(input_topic=spec.input_topic, dead_letter_topic=spec.dead_letter_topic,
                          group_id=f"streamsuite-{job}"),
        redis=RedisConfig(key_prefix=job),
        runtime=RuntimeConfig(job_name=f"streamsuite-{job}"),
        rules=RulesConfig(topic=spec.rules_topic),
        model=model,
    )


def _coerce(value: Any, kind: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind is float:
            return float(value)
        if kind is str:
            return str(value)
        if kind in (frozenset, set) or origin in (frozenset, set):
            items = value.split(",") if isinstance(value, str) else list(value)
            return frozenset(str(i).strip() for i in items if str(i).strip())
    except (TypeError, ValueError):
        name = getattr(kind, "__name__", str(kind))
        raise ConfigError(f"config key {key} = {value!r} (from {source}) is not a valid {name}") from None
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _set(obj: Any, parts: list[str], value: Any, key: str, source: str) -> Any:
    """A copy of `obj` with the dotted path set; unknown names raise ConfigError."""
    name, rest = parts[0], parts[1:]
    if isinstance(obj, JobConfig) and name == "flink":
        if not rest:
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key {key} (from {source}) must be a table of Flink options")
            options = {**obj.flink, **{str(k): str(v) for k, v in value.items()}}
        else:
            options = {**obj.flink, ".".join(rest): str(value)}
        return dataclasses.replace(obj, flink=options)
    if isinstance(obj, Mapping):
        if name not in obj and not rest:
            raise ConfigError(f"unknown config key {key} (from {source}); known in this section: "
                              f"{', '.join(sorted(obj))}")
        current = obj.get(name)
        new_value = _set(current, rest, value, key, source) if rest else _coerce(value, type(current), key, source)
        return {**obj, name: new_value}
    if not dataclasses.is_dataclass(obj):
        raise ConfigError(f"unknown config key {key} (from {source})")
    hints = _hints(type(obj))
    known = [f.name for f in dataclasses.fields(obj) if f.name != "job"]
    if name not in known:
        raise ConfigError(f"unknown config key {key} (from {source}); known here: {', '.join(known)}")
    current = getattr(obj, name)
    if rest:
        new_value = _set(current, rest, value, key, source)
    elif isinstance(value, Mapping):
        new_value = current
        for sub, sub_value in value.items():
            new_value = _set(new_value, [sub], sub_value, f"{key}.{sub}", source)
    else:
        new_value = _coerce(value, hints[name], key, source)
    try:
        return dataclasses.replace(obj, **{name: new_value})
    except ValueError as exc:
        raise ConfigError(f"config key {key} (from {source}): {exc}") from None


def load(base: JobConfig, file: str | Path | None = None, env: Mapping[str, str] | None = None,
         overrides: list[str] | tuple[str, ...] = ()) -> JobConfig:
    """Apply file, environment and `key=value` overrides to `base`, in that order, then validate."""
    config = base
    if file:
        path = Path(file)
        try:
            table = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        for key, value in table.items():
            config = _set(config, [key], value, key, f"file {path}")
    env = os.environ if env is None else env
    for name, value in sorted(env.items()):
        if name.startswith(ENV_PREFIX) and "__" in name:
            key = name[len(ENV_PREFIX):].lower().replace("__", ".")
            config = _set(config, key.split("."), value, key, f"environment {name}")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not of the form key=value (e.g. kafka.bootstrap_servers=host:9092)")
        key = key.strip()
        config = _set(config, key.split("."), value, key, "--set")
    validate(config)
    return config


def validate(config: JobConfig) -> None:
    for key, allowed in _CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            raise ConfigError(f"config key {key} = {value!r} is not one of {', '.join(allowed)}")
    for key in _POSITIVE:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value <= 0:
            raise ConfigError(f"config key {key} = {value} must be positive")
    for key in _NON_NEGATIVE:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value < 0:
            raise ConfigError(f"config key {key} = {value} must be zero or more")
    for key in ("kafka.input_topic", "kafka.dead_letter_topic", "kafka.bootstrap_servers", "redis.url"):
        section, name = key.split(".")
        if not getattr(getattr(config, section), name):
            raise ConfigError(f"config key {key} is empty; set it in the config file, the environment or --set")
    if not config.redis.url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"config key redis.url = {redact_url(config.redis.url)!r} must start with redis://, "
                          "rediss:// or unix://")
    for key in SECRET_KEYS:
        try:
            reference(config, key)
        except SecretError as exc:
            raise ConfigError(str(exc)) from None
    if config.rules.enabled and not config.rules.topic:
        raise ConfigError("config key rules.topic is empty but rules.enabled is true; name the rules topic "
                          "or set rules.enabled=false")
    if config.s3.enabled and not config.s3.bucket:
        raise ConfigError("config key s3.bucket is empty; set a bucket or s3.enabled=false")
    model_check = getattr(config.model, "__post_init__", None)
    if model_check:
        try:
            model_check()
        except ValueError as exc:
            raise ConfigError(f"model config: {exc}") from None
