package io.streamsuite.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
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
import org.junit.jupiter.api.Test;

class OutageTolerantSinkTest {

    /** A transactional writer whose close fails as the Kafka writer's abort does with the broker gone. */
    static final class TransactionalWriter
            implements StatefulSinkWriter<String, String>, CommittingSinkWriter<String, String> {
        final List<String> log = new ArrayList<>();
        boolean closeFails = true;

        @Override
        public void write(String element, Context context) {
            log.add("write " + element);
        }

        @Override
        public void flush(boolean endOfInput) {
            log.add("flush " + endOfInput);
        }

        @Override
        public List<String> snapshotState(long checkpointId) {
            return List.of("state-" + checkpointId);
        }

        @Override
        public Collection<String> prepareCommit() {
            return List.of("txn-1");
        }

        @Override
        public void close() {
            log.add("close");
            if (closeFails) {
                throw new RuntimeException("Timeout expired after 60000ms while awaiting EndTxn(false)");
            }
        }
    }

    static final class TransactionalSink
            implements Sink<String>, SupportsWriterState<String, String>, SupportsCommitter<String> {
        final TransactionalWriter writer = new TransactionalWriter();
        Collection<String> restoredFrom;

        @Override
        public SinkWriter<String> createWriter(WriterInitContext context) {
            return writer;
        }

        @Override
        public StatefulSinkWriter<String, String> restoreWriter(WriterInitContext context, Collection<String> state) {
            restoredFrom = state;
            return writer;
        }

        @Override
        public SimpleVersionedSerializer<String> getWriterStateSerializer() {
            return null;
        }

        @Override
        public Committer<String> createCommitter(CommitterInitContext context) {
            return null;
        }

        @Override
        public SimpleVersionedSerializer<String> getCommittableSerializer() {
            return null;
        }
    }

    @SuppressWarnings("unchecked")
    @Test
    void aFailedCloseIsLoggedAndEverythingElseIsTheWrappedWriters() throws Exception {
        TransactionalSink inner = new TransactionalSink();
        OutageTolerantSink<String, String, String> sink = new OutageTolerantSink<>(inner);
        StatefulSinkWriter<String, String> writer = sink.restoreWriter(null, List.of("state-6"));
        assertEquals(List.of("state-6"), inner.restoredFrom);
        writer.write("a", null);
        writer.flush(false);
        assertEquals(List.of("state-7"), writer.snapshotState(7));
        assertEquals(List.of("txn-1"), ((CommittingSinkWriter<String, String>) writer).prepareCommit());
        writer.close();
        assertEquals(List.of("write a", "flush false", "close"), inner.writer.log);
    }

    @Test
    void aFreshWriterIsWrappedToo() throws Exception {
        TransactionalSink inner = new TransactionalSink();
        SinkWriter<String> writer = new OutageTolerantSink<String, String, String>(inner).createWriter(null);
        assertTrue(writer instanceof OutageTolerantSink.Writer);
        writer.close();
        assertEquals(List.of("close"), inner.writer.log);
    }

    @Test
    void onlyTransactionalSinksAreWrapped() {
        Sink<String> plain = context -> new TransactionalWriter();
        assertThrows(IllegalArgumentException.class, () -> new OutageTolerantSink<String, String, String>(plain));
    }
}
