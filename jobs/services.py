"""Kafka, Redis and S3 reached before Flink starts, so a service that is down is one clear line."""
from __future__ import annotations

from jobs import secrets
from jobs.config import JobConfig


def check_services(config: JobConfig) -> list[str]:
    """Reach Kafka, Redis and S3 before starting Flink, so a service that is down is one clear line."""
    problems = check_kafka(config)
    import redis

    where = secrets.redact_url(config.redis.url)
    try:
        redis.Redis.from_url(config.redis.url, password=secrets.value_here(config, "redis.password"),
                             socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis is not reachable at {where} ({exc.__class__.__name__}); start it "
                        "or set redis.url (and redis.password)")
    if config.s3.enabled:
        problems += check_bucket(config)
    return problems


def check_kafka(config: JobConfig) -> list[str]:
    """The topics exist. Over TLS or SASL only the brokers' ports are tried: the check's client
    (librdkafka) reads neither JKS truststores nor secrets that only the TaskManagers can see."""
    k = config.kafka
    ref = secrets.reference(config, "kafka.sasl_password") if k.sasl_mechanism else None
    if ref and not secrets.is_handed_over(ref) and any(c in (ref.resolve() or "") for c in '"\\'):
        return [f"the password {ref} names contains a quote or backslash, which Kafka would place into the JAAS "
                "line unescaped; store it escaped (\\\" and \\\\) or choose another password"]
    if k.security_protocol != "PLAINTEXT":
        return [] if any(port_open(server) for server in k.bootstrap_servers.split(",")) else [
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


def port_open(server: str) -> bool:
    import socket

    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return True
    except (OSError, ValueError):
        return False


def s3_client(endpoint: str, access_key: str, secret_key: str, *, connect_timeout: float, read_timeout: float,
              path_style: bool = False):
    """A boto3 S3 client that tries once, within the timeouts: for checks and tools, which report a
    failure rather than wait it out (the jobs' data goes through Flink's s3a:// filesystem)."""
    import boto3
    from botocore.config import Config

    addressing = {"s3": {"addressing_style": "path"}} if path_style else {}
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        region_name="us-east-1", config=Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                                               retries={"max_attempts": 1}, **addressing))


def check_bucket(config: JobConfig) -> list[str]:
    s3 = s3_client(config.s3.endpoint, config.s3.access_key, config.s3.secret_key, connect_timeout=3, read_timeout=5)
    try:
        s3.head_bucket(Bucket=config.s3.bucket)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", exc.__class__.__name__)
        if code in ("404", "NoSuchBucket"):
            return [f"S3 bucket {config.s3.bucket} does not exist at {config.s3.endpoint}; create it or set s3.bucket"]
        return [f"S3 is not reachable at {config.s3.endpoint} with the configured keys ({code}); start it "
                "(`streamsuite stack up`), fix s3.access_key/s3.secret_key, or set s3.enabled=false"]
    return []
