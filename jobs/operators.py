"""The keyed operator base of every job, thin adapters around the `udfs` cores, and its sinks."""
from __future__ import annotations

import time

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from jobs.config import JobConfig
from jobs.hot_sink import HOT, hot_row, redis_hot_sink
from jobs.kafka import dead_letter_sink
from jobs.streams import side_output
from udfs.deadletters import dead_letter
from udfs.hot import HotRecord


# Dead letters of the keyed operators (processing errors, late events), beside decode's.
DEAD_LETTERS = OutputTag("keyed-dead-letters", Types.PRIMITIVE_ARRAY(Types.BYTE()))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def now_ms() -> int:
    return int(time.time() * 1000)


def dead_letter_bytes(payload: bytes, reason: str, source_topic: str, job: str, event_time_ms: int = 0) -> bytes:
    return dead_letter(payload, reason, source_topic, job, event_time_ms).SerializeToString()


def fits_the_jvm(rows: list) -> None:
    """Raise before the JVM would: a Python int beyond 64 bits in an output fails its conversion
    there, outside any handler, and the job with it."""
    for row in rows:
        values = row[1] if isinstance(row, tuple) else row
        for value in getattr(values, "_values", ()):
            if value.__class__ is int and not INT64_MIN <= value <= INT64_MAX:
                raise OverflowError(f"output value {value} does not fit in 64 bits")


def subtask_index(runtime_context: RuntimeContext) -> int:
    """The index of this parallel instance. In thread mode PyFlink 2.2's `get_index_of_this_subtask`
    calls `RuntimeContext.getIndexOfThisSubtask`, which Flink 2 removed (it is in the TaskInfo now)."""
    j_context = getattr(runtime_context, "_runtime_context", None)
    if j_context is not None:
        return j_context.getTaskInfo().getIndexOfThisSubtask()
    return runtime_context.get_index_of_this_subtask()



class HotResultFunction(KeyedProcessFunction):
    """Base of the keyed operators: hot results, deferred state writes, and no event that can stop the job.

    A subclass implements `on_element` (and `on_event_time` if it sets timers), returns the
    event's outputs, adds its hot records with `hot` and its state writes with `later`. The base
    emits the hot records as rows on the `HOT` side output with the outputs of the same event;
    the JVM hot sink chained after the operator has them in Redis before the checkpoint that
    covers the event completes, and the operator itself never talks to Redis.

    Any exception while handling one event or timer (domain code, state encoding, an output
    the JVM could not take) sends that event's bytes to the `DEAD_LETTERS` side output with
    the reason `processing_error: <type>: <message>` and counts it (`events_failed`); the
    state writes of that event are dropped, so its key's state stays as it was.
    """

    def __init__(self, config):
        self.model = config.model
        self.prefix = config.redis.key_prefix
        self.source_topic = config.kafka.input_topic
        self.job = config.job

    def open(self, runtime_context: RuntimeContext) -> None:
        self.metrics = runtime_context.get_metrics_group().add_group("streamsuite")
        self.failed = self.metrics.counter("events_failed")
        self._hot: list[HotRecord] = []
        self._later: list = []

    def hot(self, record: HotRecord) -> None:
        self._hot.append(record)

    def later(self, write, *args) -> None:
        """A state write (or timer change) that happens only if the whole event succeeds."""
        self._later.append((write, args))

    def on_element(self, value, ctx) -> list:
        raise NotImplementedError

    def process_element(self, value, ctx):
        try:
            return self._complete(self.on_element(value, ctx))
        except Exception as exc:  # noqa: BLE001 - one event must not stop the job for every key
            return self._failed(exc, value[2], value[1])

    def on_timer(self, timestamp: int, ctx):
        try:
            return self._complete(self.on_event_time(timestamp, ctx))
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc, b"", timestamp)

    def _complete(self, outputs) -> list:
        outputs = outputs if isinstance(outputs, list) else list(outputs)
        rows = [(HOT, hot_row(record)) for record in self._hot] if self._hot else []
        rows.extend(outputs)
        fits_the_jvm(rows)
        for write, args in self._later:
            write(*args)
        self._hot, self._later = [], []
        return rows

    def _failed(self, exc: Exception, payload: bytes, event_time_ms: int) -> list:
        self._hot, self._later = [], []
        self.failed.inc()
        reason = f"processing_error: {exc.__class__.__name__}: {exc}"
        return [(DEAD_LETTERS, dead_letter_bytes(payload, reason, self.source_topic, self.job, event_time_ms))]

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
        self.later(self.state.update, state.to_json())
        self.later(self.reschedule, self.core.next_timer(state), self.timer, ctx)
        return list(self.handle(outputs, ctx, payload, now_ms()))

    def late_letter(self, payload: bytes, reason: str, event_time_ms: int) -> bytes:
        """A late event, counted, as a dead letter with its reason."""
        self.late.inc()
        return dead_letter_bytes(payload, f"late: {reason}", self.source_topic, self.job, event_time_ms)


def keyed_operator_sinks(keyed, decoded, config: JobConfig, *more_dead_letters) -> None:
    """What every keyed operator (a `HotResultFunction`) emits besides its own rows:
    its hot rows to the JVM Redis sink, and its dead letters with decode's (and any others the job
    has) to the dead-letter topic."""
    redis_hot_sink(side_output(keyed, HOT), config)
    dead_letter_sink(config, decoded.dead_letters, side_output(keyed, DEAD_LETTERS), *more_dead_letters)
