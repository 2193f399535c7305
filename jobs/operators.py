"""Flink operators shared by the jobs: thin adapters around the `udfs` cores."""
from __future__ import annotations

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from jobs.hot_sink import HOT, hot_row
from jobs.runtime import now_ms
from udfs.codec import DecodeError
from udfs.events import EVENT_TYPES
from udfs.hot import HotRecord


def dead_letter_bytes(payload: bytes, reason: str, source_topic: str, job: str, event_time_ms: int = 0) -> bytes:
    from streamsuite_proto.v1.deadletter_pb2 import DeadLetter

    return DeadLetter(payload=bytes(payload), reason=reason, source_topic=source_topic, job=job,
                      event_time_ms=event_time_ms).SerializeToString()


class DecodeEvents(ProcessFunction):
    """Bytes -> Row(key, (key, event_time_ms, bytes)), or a DeadLetter on the side output.

    Never raises. The bytes go on as they came (raw or Schema Registry framed); the keyed
    operator parses them again (`udfs.codec.decode`, ~0.4 µs with upb), which is cheaper
    than carrying a decoded row across the JVM boundary. Events in and decoded are counted in
    Python and read by gauges: a Flink counter call per event costs more than the decode.
    """

    def __init__(self, event_type: str, source_topic: str, job: str, dead_letter_tag):
        self.event_type_name = event_type
        self.source_topic = source_topic
        self.job = job
        self.dead_letter_tag = dead_letter_tag

    def open(self, runtime_context: RuntimeContext) -> None:
        self.event_type = EVENT_TYPES[self.event_type_name]
        self.seen = self.decoded = 0
        metrics = runtime_context.get_metrics_group().add_group("streamsuite")
        metrics.gauge("events_in", lambda: self.seen)
        metrics.gauge("events_decoded", lambda: self.decoded)
        self.dead_lettered = metrics.counter("events_dead_lettered")

    def process_element(self, value, ctx):
        self.seen += 1
        try:
            event = self.event_type.parse(value)
        except DecodeError as exc:
            self.dead_lettered.inc()
            return [(self.dead_letter_tag, dead_letter_bytes(value, str(exc), self.source_topic, self.job))]
        self.decoded += 1
        key = self.event_type.key(event)
        return [Row(key, (key, event.event_time_ms, value))]


class HotResultFunction(KeyedProcessFunction):
    """Base of the keyed operators that have hot results.

    A subclass implements `on_element` (and `on_event_time` if it sets timers), returns the
    event's outputs, and adds its hot records with `hot`. The base emits those as rows on the
    `HOT` side output together with the outputs of the same event; the JVM hot sink chained
    after the operator writes them and has them in Redis before the checkpoint that covers
    the event completes. The operator itself never talks to Redis.
    """

    def __init__(self, config):
        self.model = config.model
        self.prefix = config.redis.key_prefix
        self.source_topic = config.kafka.input_topic
        self.job = config.job

    def open(self, runtime_context: RuntimeContext) -> None:
        self.metrics = runtime_context.get_metrics_group().add_group("streamsuite")
        self._hot: list[HotRecord] = []

    def hot(self, record: HotRecord) -> None:
        self._hot.append(record)

    def on_element(self, value, ctx) -> list:
        raise NotImplementedError

    def process_element(self, value, ctx):
        return self._with_hot(self.on_element(value, ctx))

    def on_timer(self, timestamp: int, ctx):
        return self._with_hot(self.on_event_time(timestamp, ctx))

    def _with_hot(self, outputs) -> list:
        outputs = outputs if isinstance(outputs, list) else list(outputs)
        if not self._hot:
            return outputs
        rows = [(HOT, hot_row(record)) for record in self._hot]
        self._hot = []
        rows.extend(outputs)
        return rows

    def on_event_time(self, timestamp: int, ctx):
        return iter(())

    def reschedule(self, due: int | None, registered, ctx) -> None:
        """Keep exactly one event-time timer per key, at `due` (the domain core says when)."""
        current = registered.value()
        if current == due:
            return
        timers = ctx.timer_service()
        if current is not None:
            timers.delete_event_time_timer(current)
        if due is None:
            registered.clear()
        else:
            timers.register_event_time_timer(due)
            registered.update(due)


class TimedStateFunction(HotResultFunction):
    """A keyed operator around a domain core that keeps its state as JSON and wants one event-time timer.

    The core has `apply(state, event, watermark)`, `on_timer(state, timestamp)` (both return
    the next state and outputs) and `next_timer(state)`. A subclass says how to build the
    core, read its state and an event, and what each output becomes (`handle`).
    """

    state_name = "state"
    # The domain core's class (built with the job's model) and its state's class (`from_json`).
    core_type: type = object
    state_type: type = object

    def make_core(self):
        return self.core_type(self.model)

    def load(self, data: str | None):
        return self.state_type.from_json(data)

    def parse(self, payload: bytes):
        raise NotImplementedError

    def handle(self, outputs: list, ctx, payload: bytes, now_ms: int):
        raise NotImplementedError

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self.state = runtime_context.get_state(ValueStateDescriptor(self.state_name, Types.STRING()))
        self.timer = runtime_context.get_state(ValueStateDescriptor("timer", Types.LONG()))
        self.late = self.metrics.counter("events_late")
        self.alerts = self.metrics.counter("alerts")
        self.core = self.make_core()

    def on_element(self, value, ctx):
        state, outputs = self.core.apply(self.load(self.state.value()), self.parse(value[2]),
                                         ctx.timer_service().current_watermark())
        return self._emit(state, outputs, ctx, value[2])

    def on_event_time(self, timestamp, ctx):
        state, outputs = self.core.on_timer(self.load(self.state.value()), timestamp)
        return self._emit(state, outputs, ctx, b"")

    def _emit(self, state, outputs: list, ctx, payload: bytes):
        self.state.update(state.to_json())
        self.reschedule(self.core.next_timer(state), self.timer, ctx)
        return list(self.handle(outputs, ctx, payload, now_ms()))

    def late_letter(self, payload: bytes, reason: str, event_time_ms: int) -> bytes:
        """A late event, counted, as a dead letter with its reason."""
        self.late.inc()
        return dead_letter_bytes(payload, f"late: {reason}", self.source_topic, self.job, event_time_ms)
