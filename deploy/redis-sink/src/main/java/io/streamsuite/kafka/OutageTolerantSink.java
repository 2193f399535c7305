package io.streamsuite.kafka;

import java.io.IOException;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.SupportsPostCommitTopology;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.lineage.LineageVertex;
import org.apache.flink.streaming.api.lineage.LineageVertexProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A transactional sink (the exactly-once KafkaSink) whose writer's {@code close()} cannot take the
 * TaskManager down.
 *
 * <p>When a task fails, Flink closes its writers while handling the failure, and an exception
 * there is fatal to the whole TaskManager ("FATAL - exception in exception handler"). The Kafka
 * connector's exactly-once writer (5.0.0-2.2) aborts its open transaction in {@code close()} and
 * lets the {@code TimeoutException} through when the broker has been unreachable for
 * {@code max.block.ms}: a Kafka outage of a minute killed the local TaskManager, and with no one to
 * start another the job never came back. That abort is best effort by the connector's own account
 * (a restored writer aborts lingering transactions, and the broker aborts any transaction after
 * {@code transaction.timeout.ms}), so this wrapper logs a failed close instead of rethrowing it.
 * Everything else is the wrapped sink's: writes, checkpointed writer state, committables, the
 * committer, the post-commit topology and lineage.
 */
public final class OutageTolerantSink<InputT, StateT, CommT>
        implements Sink<InputT>,
                SupportsWriterState<InputT, StateT>,
                SupportsCommitter<CommT>,
                SupportsPostCommitTopology<CommT>,
                LineageVertexProvider {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(OutageTolerantSink.class);

    private final Sink<InputT> sink;

    @SuppressWarnings("unchecked")
    public OutageTolerantSink(Sink<InputT> sink) {
        if (!(sink instanceof SupportsWriterState) || !(sink instanceof SupportsCommitter)) {
            throw new IllegalArgumentException(
                    sink.getClass().getName() + " keeps no writer state or has no committer: nothing to wrap");
        }
        this.sink = sink;
    }

    @SuppressWarnings("unchecked")
    private SupportsWriterState<InputT, StateT> stateful() {
        return (SupportsWriterState<InputT, StateT>) sink;
    }

    @SuppressWarnings("unchecked")
    private SupportsCommitter<CommT> committing() {
        return (SupportsCommitter<CommT>) sink;
    }

    @Override
    public SinkWriter<InputT> createWriter(WriterInitContext context) throws IOException {
        return new Writer<>(sink.createWriter(context), sink.getClass().getSimpleName());
    }

    @Override
    public StatefulSinkWriter<InputT, StateT> restoreWriter(WriterInitContext context, Collection<StateT> state)
            throws IOException {
        return new Writer<>(stateful().restoreWriter(context, state), sink.getClass().getSimpleName());
    }

    @Override
    public SimpleVersionedSerializer<StateT> getWriterStateSerializer() {
        return stateful().getWriterStateSerializer();
    }

    @Override
    public Committer<CommT> createCommitter(CommitterInitContext context) throws IOException {
        return committing().createCommitter(context);
    }

    @Override
    public SimpleVersionedSerializer<CommT> getCommittableSerializer() {
        return committing().getCommittableSerializer();
    }

    @Override
    @SuppressWarnings("unchecked")
    public void addPostCommitTopology(DataStream<CommittableMessage<CommT>> committables) {
        if (sink instanceof SupportsPostCommitTopology) {
            ((SupportsPostCommitTopology<CommT>) sink).addPostCommitTopology(committables);
        }
    }

    @Override
    public LineageVertex getLineageVertex() {
        return sink instanceof LineageVertexProvider ? ((LineageVertexProvider) sink).getLineageVertex() : null;
    }

    /** The wrapped writer, except that a failed close is logged rather than thrown. */
    static final class Writer<InputT, StateT, CommT>
            implements StatefulSinkWriter<InputT, StateT>, CommittingSinkWriter<InputT, CommT> {
        private final SinkWriter<InputT> writer;
        private final String what;

        Writer(SinkWriter<InputT> writer, String what) {
            this.writer = writer;
            this.what = what;
        }

        @Override
        public void write(InputT element, Context context) throws IOException, InterruptedException {
            writer.write(element, context);
        }

        @Override
        public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
            writer.writeWatermark(watermark);
        }

        @Override
        public void flush(boolean endOfInput) throws IOException, InterruptedException {
            writer.flush(endOfInput);
        }

        @Override
        @SuppressWarnings("unchecked")
        public List<StateT> snapshotState(long checkpointId) throws IOException {
            return ((StatefulSinkWriter<InputT, StateT>) writer).snapshotState(checkpointId);
        }

        @Override
        @SuppressWarnings("unchecked")
        public Collection<CommT> prepareCommit() throws IOException, InterruptedException {
            return ((CommittingSinkWriter<InputT, CommT>) writer).prepareCommit();
        }

        @Override
        public void close() {
            try {
                writer.close();
            } catch (Exception e) {
                LOG.warn("{} writer could not close cleanly ({}); its open transaction is aborted by the "
                        + "restored writer or, at the latest, by the broker after transaction.timeout.ms", what,
                        e.toString());
            }
        }
    }
}
