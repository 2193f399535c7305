"""The FlinkDeployments' guard, with Flink's own check: under `flink run` against a configuration
that disables program configuration, as deploy/k8s sets it, the job configured by jobs.environment runs (it
sets only the wildcard keys), and the same job made to set a cluster option is rejected.

`flink run --target local` runs the program through the CLI's context environment, which applies
the check a cluster client or an application-mode JobManager applies, in a JVM of its own.
"""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streamsuite.cluster import distribution_java_opts, flink_command, flink_environment

pytestmark = [pytest.mark.jvm]

ROOT = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("program_config_job.py")


def guarded_conf_dir(tmp_path: Path) -> Path:
    """A Flink configuration with the guard and the wildcards of base/flink-common.yaml."""
    patch = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / "flink-common.yaml").read_text())
    conf = patch["spec"]["flinkConfiguration"]
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({
        "execution.program-config.enabled": conf["execution.program-config.enabled"],
        "execution.program-config.wildcards": conf["execution.program-config.wildcards"],
        "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1",
        "jobmanager.bind-host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1", "taskmanager.host": "127.0.0.1",
        # The Java 17 module opens of the distribution's config, as the local cluster's (cluster.py).
        "env.java.opts.all": distribution_java_opts(),
    }))
    for name in ("log4j-cli.properties", "log4j.properties", "log4j-console.properties"):
        source = Path(flink_environment()["FLINK_HOME"]) / "conf" / name
        (folder / name).write_text(source.read_text())
    return folder


def flink_run_local(tmp_path: Path, *job_args: str) -> subprocess.CompletedProcess:
    env = {**flink_environment(), "FLINK_CONF_DIR": str(guarded_conf_dir(tmp_path))}
    command = flink_command("run", "--target", "local", "--pyExecutable", sys.executable,
                            "--pyClientExecutable", sys.executable, "--python", str(JOB), *job_args)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_the_job_runs_on_a_cluster_that_owns_its_settings(tmp_path):
    result = flink_run_local(tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "cluster owns settings: True" in result.stdout


def test_a_job_that_sets_a_cluster_option_is_rejected(tmp_path):
    result = flink_run_local(tmp_path, "flink.parallelism.default=3")
    assert result.returncode != 0
    assert "cluster owns settings: True" in result.stdout
    assert "parallelism.default" in result.stdout + result.stderr
