"""A tiny pipeline configured by jobs.environment.flink_configuration, for test_program_config_guard.

It prints whether the cluster owns its settings, then runs three elements through a map under
the configuration the runtime builds for the fraud job (plus any `flink.*` option given as an
argument, which the job then sets itself).
"""
import sys

from pyflink.datastream import StreamExecutionEnvironment

from jobs.config import defaults, load
from jobs.environment import cluster_owns_settings, flink_configuration

config = load(defaults("fraud", None), env={}, overrides=sys.argv[1:])
print(f"cluster owns settings: {cluster_owns_settings()}", flush=True)
env = StreamExecutionEnvironment.get_execution_environment(flink_configuration(config, []))
env.from_collection([1, 2, 3]).map(lambda x: x * 2).print()
env.execute(config.runtime.job_name)
