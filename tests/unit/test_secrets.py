"""Secrets travel as references the TaskManager resolves; literals only reach a local TaskManager."""
import os

import pytest

from jobs import secrets
from jobs.config import ConfigError, defaults, load
from jobs.kafka import client_properties
from jobs.secrets import SecretError, SecretRef, for_task_managers, jaas_quoted, redact_url

LITERAL = 'p"a\\ss wörd'
# SASL towards a port nothing listens on: the checks run, no broker is contacted.
UNREACHABLE_SASL = ("kafka.sasl_mechanism=PLAIN", "kafka.security_protocol=SASL_PLAINTEXT",
                    "kafka.bootstrap_servers=127.0.0.1:1")


def config(*overrides):
    return load(defaults("fraud", None), env={}, overrides=list(overrides))


def test_references_parse_and_map_to_kafka_config_providers():
    assert SecretRef.parse("k", "env:KAFKA_PASSWORD").kafka_placeholder() == "${env:KAFKA_PASSWORD}"
    assert SecretRef.parse("k", "file:/etc/secrets/kafka/password").kafka_placeholder() == \
        "${dir:/etc/secrets/kafka:password}"
    assert SecretRef.parse("k", "plain-literal") is None
    assert SecretRef.parse("k", "https://not-a-reference") is None


@pytest.mark.parametrize("value", ["env:1BAD", "env:", "file:relative/path"])
def test_a_malformed_reference_names_its_key(value):
    with pytest.raises(ConfigError, match="kafka.sasl_password"):
        config(f"kafka.sasl_password={value}")


def test_a_reference_resolves_where_it_can_be_seen(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSUITE_TEST_SECRET", LITERAL)
    assert SecretRef.parse("k", "env:STREAMSUITE_TEST_SECRET").resolve() == LITERAL
    (tmp_path / "password").write_text(LITERAL + "\n")
    assert SecretRef.parse("k", f"file:{tmp_path / 'password'}").resolve() == LITERAL
    assert SecretRef.parse("k", f"file:{tmp_path / 'absent'}").resolve() is None


def test_literals_go_to_a_local_task_manager_by_environment(monkeypatch):
    for key in ("STREAMSUITE_SECRET_REDIS_PASSWORD", "STREAMSUITE_SECRET_KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    prepared = for_task_managers(config(f"kafka.sasl_password={LITERAL}", "redis.url=redis://:hunter2@h:6379/1",
                                        *UNREACHABLE_SASL), local=True)
    assert prepared.kafka.sasl_password == "env:STREAMSUITE_SECRET_KAFKA_SASL_PASSWORD"
    # Escaped, because Kafka places it into the JAAS line's quotes as it is.
    assert os.environ["STREAMSUITE_SECRET_KAFKA_SASL_PASSWORD"] == 'p\\"a\\\\ss wörd'
    assert check_services_problems(prepared) == []
    assert prepared.redis.url == "redis://h:6379/1"
    assert prepared.redis.password == "env:STREAMSUITE_SECRET_REDIS_PASSWORD"
    assert os.environ["STREAMSUITE_SECRET_REDIS_PASSWORD"] == "hunter2"
    assert LITERAL not in repr(prepared) and "hunter2" not in repr(prepared)


def check_services_problems(config):
    from jobs.services import check_kafka

    return [p for p in check_kafka(config) if "JAAS" in p]


def test_a_referenced_sasl_password_with_a_quote_is_refused_before_start(monkeypatch):
    monkeypatch.setenv("STREAMSUITE_TEST_SASL", 'quo"te')
    problems = check_services_problems(config(*UNREACHABLE_SASL, "kafka.sasl_password=env:STREAMSUITE_TEST_SASL"))
    assert len(problems) == 1 and "env:STREAMSUITE_TEST_SASL" in problems[0] and 'quo"te' not in problems[0]


def test_a_cluster_refuses_literals_without_printing_them():
    with pytest.raises(SecretError, match="kafka.sasl_password") as refused:
        for_task_managers(config(f"kafka.sasl_password={LITERAL}"), local=False)
    assert LITERAL not in str(refused.value)
    with pytest.raises(SecretError, match="redis.password") as refused:
        for_task_managers(config("redis.url=redis://:hunter2@h:6379/0"), local=False)
    assert "hunter2" not in str(refused.value)
    kept = for_task_managers(config("kafka.sasl_password=env:KAFKA_SASL_PASSWORD"), local=False)
    assert kept.kafka.sasl_password == "env:KAFKA_SASL_PASSWORD"


def test_jaas_values_are_escaped_and_login_modules_are_the_shaded_ones():
    props = client_properties(config("kafka.security_protocol=SASL_SSL", "kafka.sasl_mechanism=SCRAM-SHA-512",
                                           'kafka.sasl_username=us"er\\1', f"kafka.sasl_password={LITERAL}"))
    assert props["sasl.jaas.config"] == (
        f"{secrets.SHADED_KAFKA}.common.security.scram.ScramLoginModule required "
        'username="us\\"er\\\\1" password="p\\"a\\\\ss wörd";')
    assert jaas_quoted('a"b\\c') == '"a\\"b\\\\c"'


def test_referenced_kafka_secrets_stay_references_with_config_providers():
    props = client_properties(config(
        "kafka.security_protocol=SASL_SSL", "kafka.sasl_mechanism=PLAIN", "kafka.sasl_username=svc",
        "kafka.sasl_password=env:KAFKA_SASL_PASSWORD", "kafka.ssl_truststore_location=/etc/kafka/truststore.p12",
        "kafka.ssl_truststore_type=PKCS12", "kafka.ssl_truststore_password=file:/etc/secrets/truststore-password"))
    assert props["sasl.jaas.config"].endswith('username="svc" password="${env:KAFKA_SASL_PASSWORD}";')
    assert props["sasl.jaas.config"].startswith(f"{secrets.SHADED_KAFKA}.common.security.plain.PlainLoginModule ")
    assert props["ssl.truststore.location"] == "/etc/kafka/truststore.p12"
    assert props["ssl.truststore.type"] == "PKCS12"
    assert props["ssl.truststore.password"] == "${dir:/etc/secrets:truststore-password}"
    assert props["ssl.endpoint.identification.algorithm"] == "https"
    assert props["config.providers"] == "env,dir"
    assert props["config.providers.env.class"].startswith(secrets.SHADED_KAFKA)


def test_plaintext_kafka_has_no_security_properties_beyond_the_protocol():
    assert client_properties(config()) == {"security.protocol": "PLAINTEXT"}


def test_a_store_type_outside_the_choices_names_its_key():
    with pytest.raises(ConfigError, match="kafka.ssl_truststore_type"):
        config("kafka.ssl_truststore_type=jks2")


def test_urls_are_printed_without_their_password():
    assert redact_url("redis://:hunter2@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("redis://app:hunter2@redis:6379/0") == "redis://app:***@redis:6379/0"
    assert redact_url("redis://redis:6379/0") == "redis://redis:6379/0"
    with pytest.raises(ConfigError) as refused:
        config("redis.url=http://:hunter2@redis:6379/0")
    assert "hunter2" not in str(refused.value)
