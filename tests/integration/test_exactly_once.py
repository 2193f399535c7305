"""Exactly-once under failure, fast tier: the full matrix is `python -m tests.faults` (see its reports)."""
import pytest

from tests.faults import cases
from tests.faults.harness import run_case

pytestmark = [pytest.mark.integration, pytest.mark.jvm]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("job, case, parallelism",
                         [("fraud", case, 1) for case in cases.FAST] + list(cases.FAST_OTHER_JOBS))
def test_exact_outputs_after_fault(stack, cluster, job, case, parallelism):
    fault, body = getattr(cases, case)(stack, cluster)
    options = {"job": job, "parallelism": parallelism, **cases.run_options(case)}
    result = run_case(case, fault, stack.settings, body, **options)
    assert result.verdict == "pass", result.failures()
