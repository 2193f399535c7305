package io.streamsuite.redis;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.types.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buffers upserts on the task thread and writes them, in order, on one I/O thread.
 *
 * <p>A batch leaves when it holds {@code maxBatchSize} records or its first record has waited
 * {@code maxDelayMs}. At most {@code maxInFlightBatches} batches are queued or being written;
 * past that {@link #write} blocks, so a slow or absent Redis back-pressures the job instead of
 * filling memory. One thread over one connection keeps the writes of a key in order.
 * {@link #flush} hands over the buffer and waits until Redis has acknowledged every batch.
 */
final class RedisHotWriter implements SinkWriter<Row> {
    private static final Logger LOG = LoggerFactory.getLogger(RedisHotWriter.class);

    private final RedisHotSinkOptions options;
    private final UpsertClient client;
    private final ProcessingTimeService timers;
    private final HotSinkMetrics metrics;
    private final ExecutorService io;
    private final Semaphore inFlight;
    private final ArrayDeque<Future<?>> pending = new ArrayDeque<>();
    private List<HotUpsert> buffer;
    private long bufferGeneration;
    private boolean timerArmed;

    RedisHotWriter(RedisHotSinkOptions options, UpsertClient client, ProcessingTimeService timers,
                   HotSinkMetrics metrics) {
        this.options = options;
        this.client = client;
        this.timers = timers;
        this.metrics = metrics;
        this.inFlight = new Semaphore(options.maxInFlightBatches);
        this.buffer = new ArrayList<>(options.maxBatchSize);
        this.io = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "redis-hot-writer");
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public void write(Row row, Context context) throws IOException, InterruptedException {
        buffer.add(HotUpsert.fromRow(row));
        if (buffer.size() >= options.maxBatchSize || options.maxDelayMs == 0) {
            submit();
        } else if (!timerArmed) {
            timerArmed = true;
            long generation = bufferGeneration;
            timers.registerTimer(timers.getCurrentProcessingTime() + options.maxDelayMs, time -> {
                if (generation == bufferGeneration && !buffer.isEmpty()) {
                    submit();
                }
            });
        }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        if (!buffer.isEmpty()) {
            submit();
        }
        while (!pending.isEmpty()) {
            await(pending.poll());
        }
    }

    private void submit() throws IOException, InterruptedException {
        List<HotUpsert> batch = buffer;
        buffer = new ArrayList<>(options.maxBatchSize);
        bufferGeneration++;
        timerArmed = false;
        while (!inFlight.tryAcquire(100, TimeUnit.MILLISECONDS)) {
            reapFinished();
        }
        reapFinished();
        pending.add(io.submit(() -> {
            try {
                writeWithRetries(batch);
                return null;
            } finally {
                inFlight.release();
            }
        }));
    }

    private void reapFinished() throws IOException, InterruptedException {
        while (!pending.isEmpty() && pending.peek().isDone()) {
            await(pending.poll());
        }
    }

    private void await(Future<?> batch) throws IOException, InterruptedException {
        try {
            batch.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException) {
                throw (IOException) cause;
            }
            throw new IOException(cause.getMessage(), cause);
        }
    }

    private void writeWithRetries(List<HotUpsert> batch) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long firstFailure = 0;
        long delayMs = options.retryInitialMs;
        while (true) {
            try {
                int written = client.apply(batch);
                record(batch, written, start);
                if (firstFailure != 0) {
                    LOG.info("Redis hot writes resumed after {} ms", (System.nanoTime() - firstFailure) / 1_000_000);
                }
                return;
            } catch (UpsertClient.Unavailable e) {
                long now = System.nanoTime();
                if (firstFailure == 0) {
                    firstFailure = now;
                    LOG.warn("{}; retrying for up to {} ms (redis.max_outage_ms)", e.getMessage(), options.maxOutageMs);
                }
                long downMs = (now - firstFailure) / 1_000_000;
                if (downMs >= options.maxOutageMs) {
                    LOG.error("giving up on a batch of {} hot writes", batch.size(), e.getCause());
                    // No cause attached: the job's error line is this sentence, not the socket's.
                    throw new IOException(e.getMessage() + " for " + downMs + " ms, longer than redis.max_outage_ms="
                            + options.maxOutageMs + "; start Redis or raise the bound");
                }
                metrics.retries.inc();
                Thread.sleep(Math.min(delayMs, Math.max(1, options.maxOutageMs - downMs)));
                delayMs = Math.min(delayMs * 2, options.retryMaxMs);
            }
        }
    }

    private void record(List<HotUpsert> batch, int written, long startNanos) {
        long nowMs = System.currentTimeMillis();
        metrics.written.inc(written);
        metrics.fenced.inc(batch.size() - written);
        metrics.batchSize.update(batch.size());
        metrics.writeMs.update((System.nanoTime() - startNanos) / 1_000_000);
        for (HotUpsert upsert : batch) {
            if (upsert.eventTimeMs > 0) {
                metrics.eventToHotMs.update(Math.max(0, nowMs - upsert.eventTimeMs));
            }
        }
    }

    @Override
    public void close() throws Exception {
        io.shutdownNow();
        io.awaitTermination(5, TimeUnit.SECONDS);
        client.close();
    }
}
