"""The horizon publisher reaches Kafka as the fraud job does: same brokers, same security, secrets
resolved where it runs, and a store librdkafka cannot read refused with the key to change."""
import pytest

from jobs.config import defaults, load
from jobs.kafka import LibrdkafkaError, librdkafka_properties
from jobs.rules_horizon import main

SASL_SSL = ("kafka.bootstrap_servers=b1:9093,b2:9093", "kafka.security_protocol=SASL_SSL",
            "kafka.sasl_mechanism=SCRAM-SHA-512", "kafka.sasl_username=fraud-rules")


def properties(*overrides):
    return librdkafka_properties(load(defaults("fraud", None), env={}, overrides=list(overrides)))


def test_plaintext_names_only_the_brokers():
    assert properties("kafka.bootstrap_servers=k:9092") == {"bootstrap.servers": "k:9092",
                                                           "security.protocol": "PLAINTEXT"}


def test_sasl_over_tls_with_a_pem_truststore_and_a_pkcs12_keystore(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSUITE_TEST_SASL", "s3cret")
    (tmp_path / "keystore-password").write_text("ks-pass\n")
    props = properties(*SASL_SSL, "kafka.sasl_password=env:STREAMSUITE_TEST_SASL",
                       "kafka.ssl_truststore_location=/etc/kafka/ca.pem", "kafka.ssl_truststore_type=PEM",
                       "kafka.ssl_keystore_location=/etc/kafka/client.p12", "kafka.ssl_keystore_type=PKCS12",
                       f"kafka.ssl_keystore_password=file:{tmp_path / 'keystore-password'}",
                       "kafka.ssl_endpoint_identification_algorithm=")
    assert props == {
        "bootstrap.servers": "b1:9093,b2:9093", "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "fraud-rules", "sasl.password": "s3cret",
        "ssl.endpoint.identification.algorithm": "none", "ssl.ca.location": "/etc/kafka/ca.pem",
        "ssl.keystore.location": "/etc/kafka/client.p12", "ssl.keystore.password": "ks-pass"}


def test_tls_without_a_truststore_uses_the_system_certificates():
    props = properties("kafka.security_protocol=SSL")
    assert props["ssl.ca.location"] == "probe" and props["ssl.endpoint.identification.algorithm"] == "https"


@pytest.mark.parametrize("store, kind", [("truststore", ""), ("truststore", "JKS"), ("keystore", "JKS"),
                                         ("truststore", "PKCS12")])
def test_a_store_librdkafka_cannot_read_is_refused_by_its_key(store, kind):
    overrides = ["kafka.security_protocol=SSL", f"kafka.ssl_{store}_location=/etc/kafka/{store}.jks"]
    if kind:
        overrides.append(f"kafka.ssl_{store}_type={kind}")
    with pytest.raises(LibrdkafkaError, match=f"config key kafka.ssl_{store}_type .*keytool"):
        properties(*overrides)


def test_a_secret_it_cannot_see_is_named_never_printed(monkeypatch, capsys):
    monkeypatch.delenv("STREAMSUITE_TEST_UNSET_PASSWORD", raising=False)
    with pytest.raises(LibrdkafkaError, match="kafka.sasl_password: env:STREAMSUITE_TEST_UNSET_PASSWORD cannot be read"):
        properties(*SASL_SSL, "kafka.sasl_password=env:STREAMSUITE_TEST_UNSET_PASSWORD")
    assert main(["--set", "kafka.security_protocol=SSL", "--set", "kafka.ssl_truststore_location=/x.jks"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kafka.ssl_truststore_type" in err


def test_ahead_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        main(["--ahead", "0"])
    assert "--ahead must be positive seconds" in capsys.readouterr().err
