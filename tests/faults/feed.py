"""The fault input written to Kafka exactly once, whatever the broker does meanwhile."""
from __future__ import annotations

import logging


class TransactionalFeed:
    """The fault input, written exactly once, in transactions of `CHUNK` records.

    An idempotent producer alone does not hold across a broker restart: librdkafka can write a
    batch twice when the partition's leader changes with requests in flight (seen here: a batch
    of 6 records at offsets 2143-2148 again at 2149-2154; confluentinc/librdkafka#4953), and a
    send that times out leaves a gap. A transaction that fails is aborted and its records are
    sent again in a new one; readers with read_committed (the job, the checks) see each record once.
    """

    CHUNK = 600

    def __init__(self, bootstrap: str, topic: str, logger: logging.Logger, deliveries: list, run_id: str):
        from confluent_kafka import Producer

        self.topic, self.deliveries = topic, deliveries
        # No message timeout: a record the broker cannot take during an outage is retried until it
        # can (the harness's own deadlines bound the run), never dropped.
        self.producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"fault-feed-{run_id}",
                                  "acks": "all", "linger.ms": 5, "message.timeout.ms": 0,
                                  "transaction.timeout.ms": 120_000, "logger": logger, "debug": "eos"})
        self._init_transactions()
        self.chunk: list[tuple[int, bytes, bytes, int, int | None]] = []
        self.aborts = 0
        self.producer.begin_transaction()

    def _init_transactions(self, attempts: int = 5) -> None:
        """librdkafka times out a slow transaction coordinator (e.g. one loading its log after broker
        restarts) with a retriable error that says to call again; so it is called again, a bounded
        number of times."""
        from confluent_kafka import KafkaException

        for attempt in range(attempts):
            try:
                self.producer.init_transactions(120)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == attempts - 1:
                    raise

    def _report(self, index: int):
        def on_delivery(error, message) -> None:
            self.deliveries.append((index, message.partition(), message.offset(), error.str() if error else ""))
        return on_delivery

    def _produce(self, index: int, key: bytes, value: bytes, time_ms: int, partition: int | None = None) -> None:
        """One record, to the partition its key hashes to or to `partition`."""
        where = {} if partition is None else {"partition": partition}
        while True:
            try:
                self.producer.produce(self.topic, value=value, key=key, timestamp=time_ms,
                                      on_delivery=self._report(index), **where)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.producer.poll(0)

    def write(self, index: int, key: bytes, value: bytes, time_ms: int, partition: int | None = None) -> None:
        self.chunk.append((index, key, value, time_ms, partition))
        self._attempt(lambda: self._produce(index, key, value, time_ms, partition))
        if len(self.chunk) >= self.CHUNK:
            self._commit()
            self.producer.begin_transaction()

    def _attempt(self, action) -> bool:
        """Run `action`; if the transaction must abort, abort it and send the whole chunk again in a
        new one. True when that happened (the chunk is then sent but not yet committed)."""
        from confluent_kafka import KafkaException

        aborted = False
        while True:
            try:
                action()
                return aborted
            except KafkaException as exc:
                error = exc.args[0]
                if error.retriable():
                    continue
                if not error.txn_requires_abort():
                    raise
            self.aborts += 1
            aborted = True
            self.producer.abort_transaction(120)
            self.producer.begin_transaction()
            action = self._resend

    def _resend(self) -> None:
        for record in self.chunk:
            self._produce(*record)

    def _commit(self) -> None:
        while self._attempt(lambda: self.producer.commit_transaction(120)):
            continue
        self.chunk = []

    def close(self) -> None:
        self._commit()
        self.producer.flush(30)
