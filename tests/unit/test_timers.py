"""The reference runs' timer discipline: one timer per key, fired in order, never twice."""
from dataclasses import dataclass, replace

import pytest

from udfs.timers import MAX_WATERMARK, KeyedTimerReplay, fire_due


@dataclass(frozen=True)
class Quiet:
    last_ms: int = 0
    fired: bool = True


class QuietDetector:
    """Emits ('quiet', key-less timestamp) 10 ms after a key's newest event, once."""

    def apply(self, state, event_ms, watermark):
        return Quiet(max(state.last_ms, event_ms), False), [("event", event_ms)]

    def on_timer(self, state, timestamp):
        return replace(state, fired=True), [("quiet", timestamp)]

    def next_timer(self, state):
        return None if state.fired else state.last_ms + 10


def test_timers_fire_in_time_order_once_each_and_a_newer_event_moves_them():
    run = KeyedTimerReplay(QuietDetector(), Quiet)
    run.apply("a", 100, watermark=0)
    run.apply("b", 95, watermark=0)
    run.apply("a", 104, watermark=0)  # moves a's timer from 110 to 114
    run.fire(112)
    assert run.outputs[3:] == [("quiet", 105)]
    run.fire(113)
    run.fire(MAX_WATERMARK)
    run.fire(MAX_WATERMARK)
    assert run.outputs == [("event", 100), ("event", 95), ("event", 104), ("quiet", 105), ("quiet", 114)]
    assert run.states == {"a": Quiet(104, True), "b": Quiet(95, True)}


class Repeating:
    """A core whose timer never moves on: `fire_due` must stop it, not loop."""

    def next_timer(self, state):
        return 5

    def on_timer(self, state, timestamp):
        return state, [timestamp]


def test_fire_due_fires_in_order_up_to_the_time_and_refuses_a_timer_that_repeats():
    class Countdown:
        def next_timer(self, state):
            return state[0] if state else None

        def on_timer(self, state, timestamp):
            return state[1:], [timestamp]

    assert fire_due(Countdown(), [3, 7, 12], 10) == ([12], [3, 7])
    assert fire_due(Countdown(), [3], 2) == ([3], [])
    with pytest.raises(RuntimeError, match="due again"):
        fire_due(Repeating(), None, 10)
