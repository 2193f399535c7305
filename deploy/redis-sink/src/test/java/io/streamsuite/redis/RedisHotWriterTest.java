package io.streamsuite.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The writer's batching, flushing, retry and back-pressure rules, against a client that records batches. */
@Timeout(20)
class RedisHotWriterTest {

    /** Stands in for Redis only to record what reaches it; the real script is tested against Redis from Python. */
    static final class RecordingClient implements UpsertClient {
        final List<List<String>> batches = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger unavailableFor = new AtomicInteger();
        volatile boolean refuse;
        volatile CountDownLatch gate;

        @Override
        public int apply(List<HotUpsert> batch) throws Unavailable, IOException {
            if (gate != null) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            if (refuse) {
                throw new IOException("WRONGTYPE");
            }
            if (unavailableFor.getAndDecrement() > 0) {
                throw new Unavailable("Redis at test:0 is unreachable", null);
            }
            List<String> keys = new ArrayList<>();
            batch.forEach(u -> keys.add(u.key));
            batches.add(keys);
            return batch.size();
        }

        @Override
        public void close() {}
    }

    /** Timers that fire only when the test says so. */
    static final class ManualTimers implements ProcessingTimeService {
        final TreeMap<Long, List<ProcessingTimeCallback>> due = new TreeMap<>();
        long now;

        @Override
        public long getCurrentProcessingTime() {
            return now;
        }

        @Override
        public ScheduledFuture<?> registerTimer(long timestamp, ProcessingTimeCallback target) {
            due.computeIfAbsent(timestamp, t -> new ArrayList<>()).add(target);
            return null;
        }

        void advance(long ms) throws Exception {
            now += ms;
            while (!due.isEmpty() && due.firstKey() <= now) {
                for (ProcessingTimeCallback callback : due.pollFirstEntry().getValue()) {
                    callback.onProcessingTime(now);
                }
            }
        }
    }

    final RecordingClient client = new RecordingClient();
    final ManualTimers timers = new ManualTimers();
    final HotSinkMetrics metrics = new HotSinkMetrics(UnregisteredMetricsGroup.createSinkWriterMetricGroup());

    RedisHotWriter writer(int batch, long delayMs, int inFlight, long maxOutageMs) {
        return new RedisHotWriter(new RedisHotSinkOptions("redis://127.0.0.1:6379/0", "", batch, delayMs, inFlight, 1, 4,
                maxOutageMs, 1000), client, timers, metrics);
    }

    static Row row(int i) {
        return Row.of("k" + i, 1L, new String[0], null, 0.0, "", 0L, 0L);
    }

    @Test
    void fullBatchesLeaveAtOnceAndFlushSendsTheRest() throws Exception {
        RedisHotWriter w = writer(3, 1_000, 4, 1_000);
        for (int i = 0; i < 7; i++) {
            w.write(row(i), null);
        }
        w.flush(false);
        assertEquals(List.of(List.of("k0", "k1", "k2"), List.of("k3", "k4", "k5"), List.of("k6")), client.batches);
        assertEquals(7, metrics.written.getCount());
        assertEquals(3, metrics.batchSize.getCount());
        w.close();
    }

    @Test
    void aPartialBatchLeavesAfterTheMaximumDelay() throws Exception {
        RedisHotWriter w = writer(100, 5, 4, 1_000);
        w.write(row(1), null);
        timers.advance(2);
        w.write(row(2), null);
        timers.advance(2);
        Thread.sleep(50);
        assertTrue(client.batches.isEmpty(), "nothing leaves before the delay");
        timers.advance(1);
        w.write(row(3), null);
        w.flush(false);
        assertEquals(List.of(List.of("k1", "k2"), List.of("k3")), client.batches);
        w.close();
    }

    @Test
    void anOutageIsRetriedWithBackoffAndTheFlushWaitsForIt() throws Exception {
        client.unavailableFor.set(3);
        RedisHotWriter w = writer(10, 5, 4, 10_000);
        w.write(row(1), null);
        w.flush(false);
        assertEquals(List.of(List.of("k1")), client.batches);
        assertEquals(3, metrics.retries.getCount());
        w.close();
    }

    @Test
    void anOutageLongerThanTheBoundFailsTheFlushWithTheSetting() throws Exception {
        client.unavailableFor.set(Integer.MAX_VALUE);
        RedisHotWriter w = writer(10, 5, 4, 30);
        w.write(row(1), null);
        IOException failure = assertThrows(IOException.class, () -> w.flush(false));
        assertTrue(failure.getMessage().contains("redis.max_outage_ms=30"), failure.getMessage());
        w.close();
    }

    @Test
    void aRefusedWriteFailsTheFlush() throws Exception {
        client.refuse = true;
        RedisHotWriter w = writer(10, 5, 4, 1_000);
        w.write(row(1), null);
        assertThrows(IOException.class, () -> w.flush(false));
        w.close();
    }

    @Test
    void aSlowRedisBlocksTheWriterOnceTheInFlightBatchesAreFull() throws Exception {
        client.gate = new CountDownLatch(1);
        RedisHotWriter w = writer(1, 5, 1, 1_000);
        w.write(row(1), null);
        CountDownLatch secondWritten = new CountDownLatch(1);
        Thread task = new Thread(() -> {
            try {
                w.write(row(2), null);
                secondWritten.countDown();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        task.start();
        assertFalse(secondWritten.await(300, TimeUnit.MILLISECONDS), "the second batch must wait for the first");
        client.gate.countDown();
        assertTrue(secondWritten.await(5, TimeUnit.SECONDS));
        task.join();
        w.flush(false);
        assertEquals(List.of(List.of("k1"), List.of("k2")), client.batches);
        w.close();
    }
}
