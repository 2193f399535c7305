"""Exactly-once under failure, fast tier: the full matrix is `python -m tests.faults` (see its report)."""
import pytest

from tests.faults import cases
from tests.faults.harness import run_case

# Slow tier for now: in loaded CI simulations an unbounded job sometimes processed nothing for
# minutes (cause not found yet; see the closing note of session 1). `make test-all` runs it.
pytestmark = [pytest.mark.integration, pytest.mark.jvm, pytest.mark.slow]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("case", cases.FAST)
def test_exact_outputs_after_fault(stack, cluster, case):
    fault, body = getattr(cases, case)(stack, cluster)
    result = run_case(case, fault, stack.settings, body)
    assert result.verdict == "pass", result.failures()
