"""The jobs' Kafka connectors: the exactly-once source of raw record values (offsets in
checkpoints, watermarks per partition), the exactly-once sink of raw values (dead letters), and
the security properties every client of a job shares."""
from __future__ import annotations

from jobs import secrets
from jobs.config import JobConfig


def client_properties(config: JobConfig) -> dict[str, str]:
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


class LibrdkafkaError(ValueError):
    """Kafka settings the Python client (librdkafka) cannot use; the message says what to change."""


def _secret_here(config: JobConfig, key: str) -> str:
    """A secret's value as this process sees it, or an error naming its key and reference (never a value)."""
    value = secrets.value_here(config, key)
    if value is None:
        raise LibrdkafkaError(f"config key {key}: {secrets.reference(config, key)} cannot be read here; "
                              "set the variable or mount the file")
    return value


def librdkafka_properties(config: JobConfig) -> dict[str, str]:
    """The same brokers and security for a Python client of the job's Kafka (librdkafka), with the
    secrets resolved here: librdkafka has no config providers, and reads no JKS stores."""
    k = config.kafka
    props = {"bootstrap.servers": k.bootstrap_servers, "security.protocol": k.security_protocol}
    if k.sasl_mechanism:
        props.update({"sasl.mechanisms": k.sasl_mechanism, "sasl.username": k.sasl_username,
                      "sasl.password": _secret_here(config, "kafka.sasl_password")})
    if k.security_protocol in ("SSL", "SASL_SSL"):
        props["ssl.endpoint.identification.algorithm"] = k.ssl_endpoint_identification_algorithm or "none"
        # No truststore: the system's CA certificates, as the JVM's clients use the JVM's.
        props["ssl.ca.location"] = "probe"
        for store, key in (("truststore", "ssl.ca.location"), ("keystore", "ssl.keystore.location")):
            location, kind = getattr(k, f"ssl_{store}_location"), getattr(k, f"ssl_{store}_type").upper()
            if not location:
                continue
            allowed = ("PEM",) if store == "truststore" else ("PKCS12",)
            if kind not in allowed:
                raise LibrdkafkaError(
                    f"config key kafka.ssl_{store}_type is {kind or 'unset (JKS)'}, which the Python Kafka client "
                    f"cannot read; give a {' or '.join(allowed)} {store} (keytool converts a JKS one: -exportcert -rfc "
                    "writes a PEM certificate, -importkeystore -deststoretype PKCS12 a PKCS12 store)")
            props[key] = location
        for name, key in (("ssl_keystore_password", "ssl.keystore.password"), ("ssl_key_password", "ssl.key.password")):
            if getattr(k, name):
                props[key] = _secret_here(config, f"kafka.{name}")
    return props


def _with_security(builder, config: JobConfig):
    for key, value in client_properties(config).items():
        builder = builder.set_property(key, value)
    return builder


def _source(config: JobConfig, topic: str, starting: str):
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
    return _with_security(builder, config).build()


def input_bytes(env, config: JobConfig):
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
    return env.from_source(_source(config, k.input_topic, k.starting_offsets), watermarks,
                           f"kafka:{k.input_topic}").uid(f"{config.job}-kafka-source")


def rules_bytes(env, config: JobConfig):
    """Raw records of the rules topic, from its beginning on a fresh start (the rule book needs all
    of them; a restore resumes at the checkpoint's offsets), bounded like the input.

    No watermarks: the rules never hold back event time; when a bounded run ends the source's
    final watermark still tells the operator that every rule set has been read.
    """
    from pyflink.common import WatermarkStrategy

    topic = config.rules.topic
    return env.from_source(_source(config, topic, "earliest"), WatermarkStrategy.no_watermarks(),
                           f"kafka:{topic}").uid(f"{config.job}-rules-source")


def bytes_sink(stream, config: JobConfig, topic: str, name: str) -> None:
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
    sink = outage_tolerant(_with_security(builder, config).build())
    stream.sink_to(sink).name(f"kafka:{topic}").uid(f"{config.job}-{name}-sink")


def outage_tolerant(kafka_sink):
    """The exactly-once KafkaSink in `io.streamsuite.kafka.OutageTolerantSink`: with the broker away
    longer than max.block.ms, the connector's writer fails its close (a best-effort abort), which
    Flink treats as fatal to the whole TaskManager; wrapped, the close is logged and the job
    restarts as for any other failure."""
    from pyflink.datastream.connectors import Sink

    from jobs.environment import from_sink_jar

    return Sink(from_sink_jar(lambda ours: ours.kafka.OutageTolerantSink(kafka_sink.get_java_function())))


def dead_letter_sink(config: JobConfig, dead_letters, *more) -> None:
    """All of a job's dead letters (undecodable input, late events) to one exactly-once topic."""
    stream = dead_letters.union(*more) if more else dead_letters
    bytes_sink(stream, config, config.kafka.dead_letter_topic, "dead-letters")
