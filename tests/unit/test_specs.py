"""Each job's spec (`jobs.specs`) says what the job does: the tools rely on it instead of lists of
their own, so the spec must match what the job's code writes."""
from __future__ import annotations

import importlib
from fnmatch import fnmatchcase

import pytest

from jobs.specs import JOBS
from streamsuite.generator import generate
from tests.oracles import fraud_oracle, inventory_oracle, maintenance_oracle
from udfs.fraud import alert_hot_record, card_hot_record

PREFIX = "p"


class Uncounted:
    def inc(self, n: int = 1) -> None:
        pass


def handled_hot_records(operator_class, outputs) -> list:
    """The hot records a job's keyed operator (`TimedStateFunction.handle`) makes of a domain core's outputs."""
    operator = operator_class.__new__(operator_class)
    operator.prefix, operator.source_topic, operator.job, operator._hot = PREFIX, "topic", "job", []
    operator.alerts = operator.late = operator.duplicates = operator.oversells = operator.windows = Uncounted()
    list(operator.handle(outputs, None, b"", 0))
    return operator._hot


def hot_records(job: str) -> list:
    records = generate(job, count=3_000, keys=20, seed=5).records
    if job == "fraud":
        oracle = fraud_oracle(records)
        return ([card_hot_record(s, PREFIX, 0) for s in oracle.scored]
                + [alert_hot_record(s, PREFIX) for s in oracle.alerts])
    module = importlib.import_module(JOBS[job].module)
    if job == "inventory":
        return handled_hot_records(module.CountStock, inventory_oracle(records).outputs)
    outputs, _ = maintenance_oracle(records)
    return handled_hot_records(module.MonitorMachine, outputs)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_every_hot_key_the_job_writes_is_in_its_spec(job):
    patterns = [f"{PREFIX}:{pattern}" for pattern in JOBS[job].hot_keys]
    records = hot_records(job)
    keys = {r.key for r in records} | {r.index_key for r in records if r.index_key}
    assert not [k for k in keys if not any(fnmatchcase(k, p) for p in patterns)]
    # The first pattern is the result a reader polls (the benchmark samples it for latency).
    assert any(fnmatchcase(r.key, patterns[0]) and r.event_time_ms for r in records)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_the_job_module_is_wired_from_its_spec(job):
    spec = JOBS[job]
    module = importlib.import_module(spec.module)
    assert module.SPEC is spec
    assert spec.script == f"jobs/{module.__name__.split('.')[-1]}.py"
    assert [t.columns.names[-1] for t in spec.cold_tables] == ["dt"] * len(spec.cold_tables)
