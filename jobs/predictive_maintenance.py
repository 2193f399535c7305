"""Predictive maintenance: sensor readings -> sliding-window features, health, alerts -> Redis and S3.

    Kafka maintenance.readings -> decode+validate --(bad bytes, late readings, processing errors)--> Kafka maintenance.deadletter
                                      |
                              key by machine_id
                                      |
         MonitorMachine (MachineState: panes, EWMA baseline, faults, silence, reading ids; one event-time timer)
                  |                                               |
   Redis <p>:machine:<id>, <p>:alert:<id>, <p>:alerts         S3 maintenance/features/dt=.../
   (health, anomaly per sensor, time to failure, alerts)       (window features, columns in udfs/maintenance.py)

Run locally: `python -m jobs.predictive_maintenance [--bounded] [--set key=value ...]`; the same file is
what `flink run -py` submits.
"""
from __future__ import annotations

import sys

from pyflink.common import Row

from jobs import cli, cold_sink, decoding, kafka
from jobs.config import JobConfig
from jobs.operators import DEAD_LETTERS, TimedStateFunction, keyed_operator_sinks
from jobs.specs import MAINTENANCE
from streamsuite_proto.v1.maintenance_pb2 import SensorReading
from udfs.codec import unframe
from udfs.maintenance import (Alert, DuplicateReading, LateReading, MachineHealth, MachineMonitor, WindowFeatures,
                              alert_hot_record, health_hot_record)
from udfs.maintenance_records import MachineState, MaintenanceModel, Reading

SPEC = MAINTENANCE
FEATURES = SPEC.cold("features")


class MonitorMachine(TimedStateFunction):
    """Keyed by machine: the MachineMonitor over checkpointed state, outputs to Redis, S3 and late data."""

    state_name, core_type, state_type = "machine", MachineMonitor, MachineState

    def make_core(self):
        self.windows = self.metrics.counter("windows")
        self.duplicates = self.metrics.counter("events_duplicate")
        return super().make_core()

    def parse(self, payload):
        return Reading.from_message(SensorReading.FromString(unframe(payload)[1]))

    def handle(self, outputs, ctx, payload, now_ms):
        for out in outputs:
            if isinstance(out, WindowFeatures):
                self.windows.inc()
                yield Row(*out.row())
            elif isinstance(out, MachineHealth):
                self.hot(health_hot_record(out, self.prefix, now_ms))
            elif isinstance(out, Alert):
                if out.active:
                    self.alerts.inc()
                self.hot(alert_hot_record(out, self.prefix))
            elif isinstance(out, DuplicateReading):
                self.duplicates.inc()
            elif isinstance(out, LateReading):
                yield DEAD_LETTERS, self.late_letter(payload, out.reason, out.reading.event_time_ms)


def build(env, config: JobConfig) -> None:
    decoded = decoding.decode(kafka.input_bytes(env, config), config, SPEC.event_type)
    features = (decoded.events
              .process(MonitorMachine(config), output_type=FEATURES.columns.row_type())
              .name(SPEC.operator).uid(SPEC.uid(SPEC.operator)))
    keyed_operator_sinks(features, decoded, config)
    cold = cold_sink.ColdSink(env, config)
    cold.add(FEATURES, features)
    cold.attach()


def main(argv: list[str] | None = None) -> int:
    return cli.run_job(SPEC, MaintenanceModel(), build, argv)


if __name__ == "__main__":
    sys.exit(main())
