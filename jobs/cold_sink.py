"""The cold sink of every job: rows as date-partitioned Parquet on S3, committed on checkpoint."""
from __future__ import annotations

from jobs.config import JobConfig
from jobs.tables import ColdTable


class ColdSink:
    """Cold rows as Parquet on S3 (`s3a://`), partitioned by event date, committed on checkpoint.

    Uses Flink's filesystem table connector: unlike the DataStream FileSink in Python it can
    partition by a column (`dt`), and its part files become visible only when the
    checkpoint that covers them completes.
    """

    def __init__(self, env, config: JobConfig):
        self.config = config
        self.enabled = config.s3.enabled
        self.statements = None
        if self.enabled:
            from pyflink.table import StreamTableEnvironment

            self.t_env = StreamTableEnvironment.create(env)
            # Explicit uids for the file writer and partition committer (both keep state): the ids Flink
            # hashes otherwise depend on chaining, which changes with parallelism (the committer runs at
            # 1), so a savepoint taken at parallelism 1 could not be restored at 2. The writer runs at 1
            # too (`sink.parallelism` below) so the committer is chained to it at every parallelism:
            # otherwise its max parallelism (the chain's) differs between the two and the restore fails.
            self.t_env.get_config().set("table.exec.uid.generation", "ALWAYS")
            self.statements = self.t_env.create_statement_set()

    def uri(self, table: str) -> str:
        return f"{self.config.cold_base_uri}/{table}"

    def add(self, table: ColdTable, stream) -> None:
        if not self.enabled:
            # The operator still emits these rows; a side output nobody reads is unknown to it and fails the job.
            from pyflink.java_gateway import get_gateway

            discard = get_gateway().jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()
            stream._j_data_stream.sinkTo(discard).name(f"discard:{table.name}")
            return
        name = f"{self.config.job}_{table.name}"
        self.t_env.execute_sql(f"""
            CREATE TEMPORARY TABLE `{name}` ({table.columns.ddl()}) PARTITIONED BY (`dt`) WITH (
              'connector' = 'filesystem',
              'path' = '{self.uri(table.name)}',
              'format' = 'parquet',
              'parquet.compression' = 'SNAPPY',
              'sink.parallelism' = '1',
              'sink.rolling-policy.file-size' = '128MB',
              'sink.partition-commit.policy.kind' = 'success-file'
            )""")
        self.statements.add_insert(name, self.t_env.from_data_stream(_own_task(stream)))

    def attach(self) -> None:
        if self.enabled:
            self.statements.attach_as_datastream()


def _own_task(stream):
    """The stream handed to a task of its own, so Parquet encoding runs beside the keyed operator,
    not on its thread (a non-forward partitioner ends the operator chain)."""
    from pyflink.datastream import DataStream

    return DataStream(stream._j_data_stream.rebalance())
