"""The keyed operators' timer discipline in plain Python, for reference runs.

The test oracles and the benchmark compute what a Flink job emits by running its domain
core the way `TimedStateFunction` does: one event-time timer per key at the core's
`next_timer`, fired in time order once the watermark passes it, and a timer that fired
stays registered until the core names another (so it never fires twice).
"""
from __future__ import annotations

import heapq
from typing import Any, Callable

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
