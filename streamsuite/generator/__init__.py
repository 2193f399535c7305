"""Seeded, labelled input streams for the three jobs, with a known number of poison messages.

The exactly-once tests, the reference oracle and the benchmarks need the same input,
reproducible byte for byte from a seed, plus ground truth: which transactions are
fraud, which machines fail, which messages are duplicates or out of order, and which
must end in the dead-letter topic. So generation is pure (no I/O, no wall clock) and
yields `Record(key, value, label)`; the file and Kafka writers only move records.

Stream model
- `count` is the number of valid event messages (duplicates included: they parse);
  `poison` adds that many malformed messages, so the stream has count + poison
  messages. `duration_s` instead generates every event whose event time falls in
  [start, start + duration).
- `rate` spaces events in event time (events per second over all keys). Sending is
  throttled to the same rate in wall-clock time only with `--realtime`.
- `sequence` is 1, 2, 3... per key in stream order. A duplicate repeats its original's
  bytes, sequence included. An out-of-order inventory event takes the key's next
  sequence but an event time earlier than the key's previous event (a till that sent
  late), at most `out_of_order_ms` behind the newest event time already in the stream.
- Poison never uses a sequence number and is placed at seeded positions; the valid
  events are the same whatever the poison count.
- `late` (inventory, maintenance) adds that many events at seeded positions, each for the
  key of the event before it, timed within one second either side of the job's allowed
  lateness behind that key's newest event time (`allowed_lateness_ms`, default the job
  model's): alternately just late (dead-lettered) and just in time (applied). Its key's
  newest event is within the out-of-orderness bound of the newest event, so the outcome
  does not depend on the watermark (docs/faults.md). `resend` adds that many exact copies
  of the event before, at seeded positions (duplicates). Both count as valid events.

File format (`--to-file PATH`), no header, records back to back:
    key length (4 bytes, big-endian) | key | value length (4 bytes, big-endian) | value
`read_records(path)` reads it back. Ground truth goes to PATH + ".truth.json".

Ground truth (JSON): format, domain, event_type, seed, params, complete; counts
(messages, valid_events, unique_events, duplicates, out_of_order, poison,
poison_by_kind, keys); event_time (first/last/min/max ms); poison_indexes (stream
positions, ascending) and poison ([{index, kind, reason}], reason as the decoder gives
it); labels, per domain:
- fraud: labels {transaction_id: pattern} for fraudulent transactions only (absent =
  legit), by_pattern, incidents [{pattern, card_id, start_ms, end_ms, transaction_ids,
  context_transaction_ids (legit ones that set the scene), complete, ...}]. The
  cardholder keeps using a card after an incident; those transactions are legit.
- inventory: duplicates [event_id in resend order], out_of_order [{event_id, key,
  behind_key_ms, lateness_ms}], out_of_order_bound_ms, never_released [reservation_id],
  reservations {created, released, abandoned_by_design}.
- maintenance: period_ms, degrading {machine_id: {mode, onset_ms, failure_ms,
  failure_thresholds, threshold_crossed_ms, last_event_ms, failed_in_stream}}, faulty
  {machine_id: [{sensor, kind (stuck|impossible), from_ms, value, readings}]}, silent
  {machine_id: {silent_from_ms, last_event_ms}}.
"""
from __future__ import annotations

from streamsuite.generator.cli import add_arguments, run
from streamsuite.generator.outputs import read_records, write_records
from streamsuite.generator.stream import EventStream, GeneratedStream, generate

__all__ = ["EventStream", "GeneratedStream", "add_arguments", "generate", "read_records", "run", "write_records"]
