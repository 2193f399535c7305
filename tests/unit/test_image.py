"""The image: the Dockerfile against the pins, the job modules and the manifests, and hadolint."""
from __future__ import annotations

import re

from jobs.specs import JOBS
from streamsuite.preflight import SUPPORTED_PYTHON
from streamsuite.versions import pinned_versions
from tests.deploy_helpers import APP_DIR, DEPLOY, ROOT, by_kind, dockerfile, dockerfile_copies, dockerfile_env, job_args, run, tool


def test_every_job_script_is_in_the_repo_where_the_image_copies_it(base):
    copies = dockerfile_copies()
    jobs_seen = set()
    for deployment in by_kind(base, "FlinkDeployment"):
        options, _ = job_args(deployment)
        script = options["-py"]
        assert script.startswith(APP_DIR + "/"), script
        destination = next((d for d in copies if script.startswith(d + "/")), None)
        assert destination, f"{script}: no COPY in deploy/Dockerfile puts a folder there"
        source = ROOT / copies[destination] / script[len(destination) + 1:]
        assert source.is_file(), f"{script} is copied from {source}, which does not exist"
        spec = next((s for s in JOBS.values() if ROOT / s.script == source), None)
        assert spec, f"{source} is the module of no job in jobs.specs"
        assert "cli.run_job(SPEC," in source.read_text(), f"{source} does not run its job's spec"
        assert deployment["metadata"]["name"] == f"streamsuite-{spec.job}"
        jobs_seen.add(spec.job)
    assert jobs_seen == set(JOBS)


def test_python_driver_jar_and_flink_version_are_the_pinned_ones(base):
    pins = pinned_versions()
    major, minor = pins.flink.split(".")[:2]
    for deployment in by_kind(base, "FlinkDeployment"):
        spec = deployment["spec"]
        assert spec["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{pins.flink}.jar"
        assert spec["job"]["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        assert spec["flinkVersion"] == f"v{major}_{minor}"


def test_dockerfile_uses_the_pinned_flink_the_runtime_requirements_and_the_pom():
    pins = pinned_versions()
    text = dockerfile()
    base_image = re.search(r"^ARG FLINK_IMAGE=(\S+)", text, re.M).group(1)
    assert base_image.startswith(f"flink:{pins.flink}-") and "java17" in base_image, base_image
    # The runtime requirements.txt (the tests add requirements-dev.txt's tools), and the package
    # itself without re-resolving.
    assert re.search(r"^COPY requirements\.txt (\S+)$", text, re.M).group(1) == f"{APP_DIR}/requirements.txt"
    assert f"pip install --no-cache-dir --disable-pip-version-check -r {APP_DIR}/requirements.txt" in text
    assert f"--no-deps {APP_DIR}" in text
    # The same pom, resolved by Maven in a build stage, into the layout jobs/paths.py reads.
    assert re.search(r"^FROM maven:3-eclipse-temurin-17 AS jars$", text, re.M)
    assert "COPY deploy/pom.xml deploy/pom.xml" in text
    assert "mvn -f deploy/pom.xml -B -q package -Djars.dir=/jars" in text
    env = dockerfile_env()
    assert f"COPY --from=jars /jars/flink/lib/ {env['STREAMSUITE_JARS_DIR']}/flink/lib/" in text
    assert "COPY --from=jars /jars/flink/plugins/s3-fs-hadoop/ /opt/flink/plugins/s3-fs-hadoop/" in text
    assert env["STREAMSUITE_HOME"] == APP_DIR and f"COPY deploy/pom.xml {APP_DIR}/deploy/pom.xml" in text
    # Python the project supports, run as the base image's non-root user.
    python = re.search(r"^ARG PYTHON_VERSION=(\d+)\.(\d+)\.\d+$", text, re.M)
    assert (int(python.group(1)), int(python.group(2))) in SUPPORTED_PYTHON
    assert re.findall(r"^USER (\S+)$", text, re.M)[-1] == "9999:9999", "the base image's flink user, by number"
    copies = dockerfile_copies()
    for folder in ("jobs", "udfs", "proto"):
        assert copies[f"{APP_DIR}/{folder}"] == f"{folder}/"
    assert not [d for d, s in copies.items() if s.startswith("streamsuite")], "the dev tooling stays out of the image"
    assert "setup.py" in re.search(rf"^COPY (.*) {APP_DIR}/$", text, re.M).group(1)


def test_one_python_interpreter_everywhere(base):
    python = dockerfile_env()["PYFLINK_CLIENT_EXECUTABLE"]
    for deployment in by_kind(base, "FlinkDeployment"):
        options, _ = job_args(deployment)
        conf = deployment["spec"]["flinkConfiguration"]
        assert options["-pyclientexec"] == conf["python.executable"] == conf["python.client.executable"] == python



def test_hadolint_passes_the_dockerfile():
    result = run([tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
