"""Any of our jobs (the module in STREAMSUITE_FAULT_JOB) with one injected failure after N records.

The failing step is the fraud file's (`fraud_failing_once`): importing it puts it after the Kafka
source, whatever job then builds its pipeline.
"""
import importlib
import os
import sys

from tests.faults import fraud_failing_once  # noqa: F401 - installs the source that fails once

if __name__ == "__main__":
    sys.exit(importlib.import_module(os.environ["STREAMSUITE_FAULT_JOB"]).main())
