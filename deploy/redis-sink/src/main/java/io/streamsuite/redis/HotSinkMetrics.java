package io.streamsuite.redis;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * What the hot sink reports, under the operator's {@code streamsuite} group: real histograms
 * (quantiles in every reporter), updated from the writer's I/O thread.
 */
final class HotSinkMetrics {
    private static final int WINDOW = 10_000;

    final Counter written;
    final Counter fenced;
    final Counter retries;
    final Histogram batchSize;
    final Histogram writeMs;
    final Histogram eventToHotMs;

    HotSinkMetrics(MetricGroup operator) {
        MetricGroup group = operator.addGroup("streamsuite");
        written = group.counter("hot_records_written", new ThreadSafeSimpleCounter());
        fenced = group.counter("hot_records_fenced", new ThreadSafeSimpleCounter());
        retries = group.counter("redis_write_retries", new ThreadSafeSimpleCounter());
        batchSize = group.histogram("hot_batch_size", new DescriptiveStatisticsHistogram(WINDOW));
        writeMs = group.histogram("redis_write_ms", new DescriptiveStatisticsHistogram(WINDOW));
        eventToHotMs = group.histogram("event_to_hot_ms", new DescriptiveStatisticsHistogram(WINDOW));
    }
}
