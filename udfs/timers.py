"""The keyed operators' timer discipline and watermark in plain Python, for reference runs.

The test oracles and the benchmark compute what a Flink job emits by running its domain
core the way `TimedStateFunction` does: one event-time timer per key at the core's
`next_timer`, fired in time order once the watermark passes it, and a timer that fired
stays registered until the core names another (so it never fires twice). The watermark is
the jobs' one model, Flink's bounded out-of-orderness (jobs/kafka.py), and `replay_events` is
the one loop every domain's reference run uses.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Iterable

MIN_WATERMARK = -(2**63)
MAX_WATERMARK = 2**63 - 1


def fire_due(core: Any, state: Any, until_ms: int) -> tuple[Any, list]:
    """Every timer of one key due at or before `until_ms`, one by one as Flink fires them, and their
    outputs: a core calls this with its key's event time before applying an event, so the event
    sees the same state whether the watermark passed those timers before it arrived or not."""
    outputs: list = []
    fired_ms = None
    while (due := core.next_timer(state)) is not None and due <= until_ms:
        if fired_ms is not None and due <= fired_ms:
            raise RuntimeError(f"timer at {due} ms is due again after firing at {fired_ms} ms")
        state, out = core.on_timer(state, due)
        outputs.extend(out)
        fired_ms = due
    return state, outputs


def bounded_out_of_orderness(bound_ms: int) -> Callable[[int], int]:
    """Flink's BoundedOutOfOrdernessWatermarks: the newest event time seen, minus the bound, minus 1."""
    return lambda max_event_time_ms: max_event_time_ms - bound_ms - 1


class KeyedTimerReplay:
    """A domain core (`apply`, `on_timer`, `next_timer`) run per key, collecting every output in order."""

    def __init__(self, core: Any, new_state: Callable[[], Any]):
        self.core = core
        self.new_state = new_state
        self.states: dict[str, Any] = {}
        self.outputs: list = []
        self._timers: dict[str, int] = {}
        self._queue: list[tuple[int, str]] = []

    def apply(self, key: str, event: Any, watermark: int) -> None:
        state = self.states[key] if key in self.states else self.new_state()
        self.states[key], out = self.core.apply(state, event, watermark)
        self.outputs.extend(out)
        self._schedule(key)

    def fire(self, watermark: int) -> None:
        """Every timer due at `watermark`, oldest first (MAX_WATERMARK: the end of the input)."""
        while self._queue and self._queue[0][0] <= watermark:
            due, key = heapq.heappop(self._queue)
            if self._timers.get(key) == due:
                self.states[key], out = self.core.on_timer(self.states[key], due)
                self.outputs.extend(out)
                self._schedule(key)

    def _schedule(self, key: str) -> None:
        due = self.core.next_timer(self.states[key])
        if due is None:
            self._timers.pop(key, None)
        elif self._timers.get(key) != due:
            self._timers[key] = due
            heapq.heappush(self._queue, (due, key))


def replay_events(core: Any, new_state: Callable[[], Any], events: Iterable[Any], key: Callable[[Any], str],
                  watermark_fn: Callable[[int], int] | None = None,
                  end_watermark_ms: int = MAX_WATERMARK) -> KeyedTimerReplay:
    """What a keyed operator does with `events` in this arrival order, timers included.

    Each event is applied at the current watermark; then the watermark advances to
    `watermark_fn(newest event time)` (e.g. `bounded_out_of_orderness`) and every due timer fires.
    Without `watermark_fn` the watermark stays at its minimum (one that lags as far as it can).
    The end of the input fires the rest, as MAX_WATERMARK does, or those due by `end_watermark_ms`
    (the last watermark of an unbounded run).
    """
    run = KeyedTimerReplay(core, new_state)
    watermark, newest = MIN_WATERMARK, None
    for event in events:
        run.apply(key(event), event, watermark)
        if watermark_fn is not None:
            newest = event.event_time_ms if newest is None else max(newest, event.event_time_ms)
            watermark = max(watermark, watermark_fn(newest))
            run.fire(watermark)
    run.fire(end_watermark_ms)
    return run
