package io.streamsuite.redis;

import java.io.IOException;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.types.Row;

/**
 * Hot results to Redis as version-fenced upserts, exactly-once together with the job's state.
 *
 * <p>Python operators in thread mode run no code before a checkpoint barrier, so they cannot
 * batch writes safely. This sink, chained after them, batches by count and by a maximum delay
 * and writes and awaits everything it holds in {@link SinkWriter#flush}, which Flink calls
 * before the barrier leaves the chain: a completed checkpoint never covers a hot write that
 * has not reached Redis, and a replay rewrites the same versions, which the fence ignores.
 */
public final class RedisHotSink implements Sink<Row> {
    private static final long serialVersionUID = 1L;

    private final RedisHotSinkOptions options;

    public RedisHotSink(RedisHotSinkOptions options) {
        this.options = options;
    }

    @Override
    public SinkWriter<Row> createWriter(WriterInitContext context) throws IOException {
        String password = options.password.resolve();
        return new RedisHotWriter(options, new JedisUpsertClient(options.uri(),
                password == null || password.isEmpty() ? null : password, options.timeoutMs),
                context.getProcessingTimeService(), new HotSinkMetrics(context.metricGroup()));
    }
}
