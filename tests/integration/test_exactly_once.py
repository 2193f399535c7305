"""Exactly-once under failure, fast tier: the full matrix is `python -m tests.faults` (see its report)."""
import pytest

from tests.faults import cases
from tests.faults.harness import run_case

pytestmark = [pytest.mark.integration, pytest.mark.jvm]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", cases.FAST)
def test_exact_outputs_after_fault(stack, cluster, case):
    fault, body = getattr(cases, case)(stack, cluster)
    result = run_case(case, fault, stack.settings, body, **cases.run_options(case))
    assert result.verdict == "pass", result.failures()
