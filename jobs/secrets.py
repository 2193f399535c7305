"""Passwords and keys in job settings: references the TaskManager resolves, never values in the job graph.

A secret setting (`SECRET_KEYS`) is given as `env:NAME` (an environment variable of the
TaskManager and JobManager, e.g. from a Kubernetes Secret) or `file:/path` (a file there,
e.g. a mounted Secret; its content, without a trailing newline). The job graph, and the Flink
configuration stored with it, hold only the reference:
- Kafka resolves it itself, when a consumer or producer is created, through Kafka's config
  providers (`${env:NAME}`, `${dir:/folder:file}`);
- the JVM Redis hot sink resolves it when its writer opens;
- S3 keys are the cluster's (its Flink configuration or the pod's AWS variables), so a job
  submitted to a cluster sends none.
A literal value is accepted only on the local mini-cluster, where the TaskManager is a child of
this process: it is handed over as an environment variable of that child, and the job graph
holds the reference.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

SECRET_KEYS = ("kafka.sasl_password", "kafka.ssl_truststore_password", "kafka.ssl_keystore_password",
               "kafka.ssl_key_password", "redis.password")
LOCAL_ENV_PREFIX = "STREAMSUITE_SECRET_"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SecretError(ValueError):
    """A secret setting that cannot be used as given; the message names the key, never the value."""


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is read from: `env` (a variable name) or `file` (a path)."""

    kind: str
    where: str

    @classmethod
    def parse(cls, key: str, text: str) -> "SecretRef | None":
        """The reference `text` names, or None for a literal value."""
        kind, sep, where = text.partition(":")
        if not sep or kind not in ("env", "file"):
            return None
        if kind == "env" and not _ENV_NAME.fullmatch(where):
            raise SecretError(f"config key {key}: env:{where} is not an environment variable name")
        if kind == "file" and not where.startswith("/"):
            raise SecretError(f"config key {key}: file:{where} must be an absolute path")
        return cls(kind, where)

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"

    def kafka_placeholder(self) -> str:
        """The variable Kafka's config providers replace (see `KAFKA_CONFIG_PROVIDERS`)."""
        if self.kind == "env":
            return "${env:%s}" % self.where
        path = Path(self.where)
        return "${dir:%s:%s}" % (path.parent, path.name)

    def resolve(self) -> str | None:
        """The value, where this process can see it (service checks before submitting), else None."""
        if self.kind == "env":
            return os.environ.get(self.where)
        try:
            return Path(self.where).read_text().rstrip("\n")
        except OSError:
            return None


# flink-sql-connector-kafka relocates Kafka's classes under this package.
SHADED_KAFKA = "org.apache.flink.kafka.shaded.org.apache.kafka"
KAFKA_CONFIG_PROVIDERS = {
    "config.providers": "env,dir",
    "config.providers.env.class": f"{SHADED_KAFKA}.common.config.provider.EnvVarConfigProvider",
    "config.providers.dir.class": f"{SHADED_KAFKA}.common.config.provider.DirectoryConfigProvider",
}


def _get(config, key: str) -> str:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def _replace(config, key: str, value: str):
    section, name = key.split(".")
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{name: value})})


def for_task_managers(config, local: bool):
    """`config` with every secret a reference; literals are handed to a local TaskManager by environment."""
    url = urlsplit(config.redis.url)
    if url.password is not None:
        if not local:
            raise SecretError("config key redis.url carries a password, which would travel inside the job graph; "
                              "give it as redis.password=env:NAME or file:/path and the URL without it")
        netloc = (f"{url.username}@" if url.username else "") + url.netloc.rpartition("@")[2]
        config = _replace(config, "redis.url", urlunsplit(url._replace(netloc=netloc)))
        if not config.redis.password:
            config = _replace(config, "redis.password", unquote(url.password))
    for key in SECRET_KEYS:
        value = _get(config, key)
        if not value or SecretRef.parse(key, value):
            continue
        if not local:
            raise SecretError(f"config key {key} is a literal value, which would travel inside the job graph; "
                              f"on a cluster give it as env:NAME or file:/path, resolved on the TaskManager")
        variable = LOCAL_ENV_PREFIX + key.upper().replace(".", "_")
        # Kafka puts the SASL password into its JAAS line as it is: hand it over escaped.
        os.environ[variable] = jaas_quoted(value)[1:-1] if key == "kafka.sasl_password" else value
        config = _replace(config, key, f"env:{variable}")
    return config


def is_handed_over(ref: SecretRef) -> bool:
    """A literal this process handed to its local TaskManager (see `for_task_managers`)."""
    return ref.kind == "env" and ref.where.startswith(LOCAL_ENV_PREFIX)


def reference(config, key: str) -> SecretRef | None:
    value = _get(config, key)
    return SecretRef.parse(key, value) if value else None


def value_here(config, key: str) -> str | None:
    """The secret's value as this process sees it (a literal, or a reference it can resolve)."""
    ref = reference(config, key)
    return ref.resolve() if ref else (_get(config, key) or None)


def jaas_quoted(value: str) -> str:
    """A value inside a JAAS option's double quotes (Kafka's JAAS parser reads \\\\ and \\" escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redact_url(url: str) -> str:
    """A service URL fit to print: its password, if any, written *** (even one with @ or : in it)."""
    return re.sub(r"(?<=//)([^/:@]*):[^/]*@", r"\1:***@", url)
