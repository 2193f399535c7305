"""The local stack is real: Kafka with transactions, Redis with AOF, S3 with the job buckets."""
import socket
import uuid

import pytest

from jobs.specs import BUCKETS, JOBS
from streamsuite.processes import owned_pid, pid_alive
from streamsuite.stack import Stack, StackError, StackSettings

pytestmark = pytest.mark.integration


def test_kafka_has_the_job_topics_and_transactions_work(stack):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    bootstrap = stack.settings.kafka_bootstrap
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    for job in JOBS.values():
        assert len(topics[job.input_topic].partitions) == job.partitions
        assert job.dead_letter_topic in topics
    topic = JOBS["fraud"].dead_letter_topic
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"test-{uuid.uuid4()}"})
    producer.init_transactions(30)
    marker = uuid.uuid4().bytes
    producer.begin_transaction()
    producer.produce(topic, value=b"aborted-" + marker, partition=0)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed-" + marker, partition=0)
    producer.commit_transaction(30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    seen = []
    try:
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.value().endswith(marker):
                seen.append(msg.value())
                if msg.value().startswith(b"committed"):
                    break
    finally:
        consumer.close()
    assert seen == [b"committed-" + marker]


def test_redis_answers_with_aof_on(stack):
    import redis

    client = redis.Redis(host=stack.settings.host, port=stack.settings.redis_port)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("bind")["bind"] == "127.0.0.1"


def test_s3_has_the_buckets_and_stores_objects(stack):
    s3 = next(s for s in stack.services if s.name == "s3").client()
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(BUCKETS) <= names
    key = f"tests/{uuid.uuid4()}.txt"
    s3.put_object(Bucket=BUCKETS[0], Key=key, Body=b"hello")
    assert s3.get_object(Bucket=BUCKETS[0], Key=key)["Body"].read() == b"hello"
    s3.delete_object(Bucket=BUCKETS[0], Key=key)


def test_every_service_listens_on_loopback_only(stack):
    for service in stack.services:
        for port in service.ports().values():
            with socket.socket() as sock:
                sock.settimeout(1)
                assert sock.connect_ex(("127.0.0.1", port)) == 0, f"{service.name} not on {port}"


def test_up_again_is_a_no_op(stack):
    before = {s.name: owned_pid(s) for s in stack.services}
    stack.up()
    assert {s.name: owned_pid(s) for s in stack.services} == before


def test_taken_port_is_reported_clearly(tmp_path, monkeypatch, stack):
    monkeypatch.setenv("STREAMSUITE_RUN_DIR", str(tmp_path))
    other = Stack(StackSettings.from_env(s3_port=stack.settings.redis_port, redis_port=16399,
                                         kafka_port=19192, kafka_controller_port=19193),
                  say=lambda line: None)
    with pytest.raises(StackError, match=rf"port {stack.settings.redis_port} \(s3 s3\).*taken"):
        other.up()
    assert not list(tmp_path.rglob("pid"))


def test_non_loopback_host_is_refused():
    with pytest.raises(StackError, match="loopback"):
        StackSettings.from_env(host="0.0.0.0")


def test_down_stops_exactly_the_recorded_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSUITE_RUN_DIR", str(tmp_path))
    other = Stack(StackSettings.from_env(kafka_port=19292, kafka_controller_port=19293, redis_port=16479,
                                         s3_port=18433, s3_internal_base_port=24330), say=lambda line: None)
    try:
        other.up()
        pids = {s.name: owned_pid(s) for s in other.services}
        assert all(pids.values()), pids
    finally:
        other.down()
    assert not any(pid_alive(pid) for pid in pids.values() if pid)
    assert all(state == "stopped" for state in other.status().values())


def test_missing_binary_is_reported_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSUITE_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("STREAMSUITE_REDIS_SERVER", str(tmp_path / "no-such-redis-server"))
    other = Stack(StackSettings.from_env(kafka_port=19392, kafka_controller_port=19393, redis_port=16579,
                                         s3_port=18533, s3_internal_base_port=25330), say=lambda line: None)
    with pytest.raises(StackError, match="redis-server is not installed"):
        other.up()
    assert all(state == "stopped" for state in other.status().values())
