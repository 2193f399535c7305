"""Config layering (defaults -> file -> env -> --set) and errors that name the key."""
import subprocess
import sys

import pytest

from jobs.config import ConfigError, defaults, load
from jobs.secrets import redact_url
from jobs.fraud_scoring import default_model


def base():
    return defaults("fraud", default_model())


def test_defaults_come_from_the_job_spec():
    config = load(base(), env={})
    assert (config.kafka.input_topic, config.kafka.dead_letter_topic) == ("fraud.transactions", "fraud.deadletter")
    assert config.redis.key_prefix == "fraud" and config.cold_base_uri == "s3a://streamsuite-cold/fraud"
    assert config.checkpoint.state_backend == "hashmap" and config.runtime.python_mode == "thread"
    assert (config.rules.enabled, config.rules.topic, config.rules.recheck_ms) == (False, "fraud.rules", 100)
    assert defaults("inventory", None).rules.topic == ""


def test_layers_apply_in_order(tmp_path):
    file = tmp_path / "fraud.toml"
    file.write_text('[kafka]\nbootstrap_servers = "file:9092"\ngroup_id = "from-file"\n'
                    '[checkpoint]\ninterval_ms = 7000\n[model]\nalert_threshold = 0.8\n'
                    'weights = { velocity_1m = 0.2 }\n')
    env = {"STREAMSUITE_KAFKA__BOOTSTRAP_SERVERS": "env:9092", "STREAMSUITE_CHECKPOINT__INTERVAL_MS": "8000",
           "UNRELATED": "x"}
    config = load(base(), file, env, ["checkpoint.interval_ms=9000"])
    assert config.kafka.bootstrap_servers == "env:9092"
    assert config.kafka.group_id == "from-file"
    assert config.checkpoint.interval_ms == 9000
    assert config.model.alert_threshold == 0.8
    assert config.model.weights["velocity_1m"] == 0.2
    assert config.model.weights["impossible_travel"] == 0.9


@pytest.mark.parametrize("overrides, env, message", [
    (["kafka.bootstrap=x"], {}, "unknown config key kafka.bootstrap (from --set)"),
    ([], {"STREAMSUITE_REDIS__URLL": "x"}, "unknown config key redis.urll (from environment STREAMSUITE_REDIS__URLL)"),
    (["checkpoint.interval_ms=soon"], {}, "checkpoint.interval_ms = 'soon' (from --set) is not a valid int"),
    (["checkpoint.interval_ms=0"], {}, "checkpoint.interval_ms = 0 must be positive"),
    (["kafka.bounded=maybe"], {}, "kafka.bounded = 'maybe' (from --set) is not a valid bool"),
    (["runtime.python_mode=loop"], {}, "runtime.python_mode = 'loop' is not one of thread, process"),
    (["redis.url=localhost:6379"], {}, "redis.url = 'localhost:6379' must start with redis://"),
    (["kafka.input_topic="], {}, "kafka.input_topic is empty"),
    (["model.weights.velocity_9m=0.1"], {}, "unknown config key model.weights.velocity_9m"),
    (["model.alert_threshold=1.5"], {}, "alert threshold 1.5 must be in (0, 1]"),
    (["justakey"], {}, "is not of the form key=value"),
    (["rules.enabled=true", "rules.topic="], {}, "config key rules.topic is empty but rules.enabled is true"),
    (["rules.recheck_ms=0"], {}, "config key rules.recheck_ms = 0 must be positive"),
])
def test_bad_values_name_the_key(overrides, env, message):
    with pytest.raises(ConfigError) as info:
        load(base(), env=env, overrides=overrides)
    assert message in str(info.value)


def test_a_service_url_is_never_echoed_with_its_password():
    with pytest.raises(ConfigError) as error:
        load(base(), env={}, overrides=["redis.url=http://:s3cr3t@redis.internal:6379/0"])
    assert "s3cr3t" not in str(error.value) and "http://:***@redis.internal:6379/0" in str(error.value)
    assert redact_url("redis://app:p@ss:w0rd@redis:6379/0") == "redis://app:***@redis:6379/0"
    assert redact_url("rediss://redis.internal:6380/1") == "rediss://redis.internal:6380/1"


def test_job_says_redis_is_down_without_its_password():
    result = job("--set", "kafka.bootstrap_servers=127.0.0.1:1", "--set", "redis.url=redis://:s3cr3t@127.0.0.1:1/0",
                 "--set", "s3.endpoint=http://127.0.0.1:1")
    assert result.returncode == 1
    # The password left the URL for the TaskManager's environment (jobs.secrets) before the check.
    assert "Redis is not reachable at redis://127.0.0.1:1/0" in result.stderr
    assert "s3cr3t" not in result.stderr


def test_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(base(), tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(base(), broken, env={})


def job(*args):
    return subprocess.run([sys.executable, "-m", "jobs.fraud_scoring", *args], capture_output=True, text=True,
                          timeout=120)


def test_job_rejects_bad_config_with_one_line_and_no_jvm():
    result = job("--set", "runtime.parallelism=two")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m jobs.fraud_scoring: config key runtime.parallelism = 'two' (from --set) is not a valid int"]


def test_job_says_which_service_is_down():
    result = job("--set", "kafka.bootstrap_servers=127.0.0.1:1", "--set", "redis.url=redis://127.0.0.1:1/0",
                 "--set", "s3.endpoint=http://127.0.0.1:1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert "Kafka is not reachable at 127.0.0.1:1" in lines[0]
    assert "Redis is not reachable at redis://127.0.0.1:1/0" in lines[1]
    assert "S3 is not reachable at http://127.0.0.1:1" in lines[2]


def test_any_flink_option_passes_through(tmp_path):
    file = tmp_path / "f.toml"
    file.write_text('[flink]\n"metrics.reporter.prom.port" = 9249\n')
    config = load(base(), file, {"STREAMSUITE_FLINK__TASKMANAGER__NUMBEROFTASKSLOTS": "2"},
                  ["flink.state.backend.rocksdb.memory.managed=false"])
    assert config.flink == {"metrics.reporter.prom.port": "9249", "taskmanager.numberoftaskslots": "2",
                            "state.backend.rocksdb.memory.managed": "false"}
