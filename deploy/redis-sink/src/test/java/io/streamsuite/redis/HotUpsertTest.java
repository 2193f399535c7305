package io.streamsuite.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

class HotUpsertTest {

    static Row row(String key, long version, String indexKey, double score) {
        return Row.of(key, version, new String[] {"score", "0.25", "reasons", "velocity"}, indexKey, score,
                "member", 0L, 1_700_000_000_000L);
    }

    @Test
    void scriptArgumentsFollowTheRowLayout() {
        HotUpsert upsert = HotUpsert.fromRow(row("fraud:alert:c1:3", 7, "fraud:alerts", 1_700_000_000_123.0));
        assertEquals(List.of("fraud:alert:c1:3", "fraud:alerts"), upsert.keys());
        assertEquals(List.of("7", "1700000000123", "member", "0", "score", "0.25", "reasons", "velocity"), upsert.args());
        assertEquals(1_700_000_000_000L, upsert.eventTimeMs);
    }

    @Test
    void withoutAnIndexOnlyTheHashIsAKey() {
        assertEquals(List.of("fraud:card:c1"), HotUpsert.fromRow(row("fraud:card:c1", 1, null, 0)).keys());
        assertEquals(List.of("fraud:card:c1"), HotUpsert.fromRow(row("fraud:card:c1", 1, "", 0)).keys());
    }

    @Test
    void malformedRowsAreRefusedWithTheReason() {
        Row odd = Row.of("k", 1L, new String[] {"lonely"}, null, 0.0, "", 0L, 0L);
        assertEquals("hot record k has an odd number of field names and values",
                assertThrows(IllegalArgumentException.class, () -> HotUpsert.fromRow(odd)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> HotUpsert.fromRow(Row.of("k", 1L)));
    }

    @Test
    void fractionalScoresKeepTheirDigits() {
        assertEquals("0.1", HotUpsert.scoreText(0.1));
        assertEquals("-3", HotUpsert.scoreText(-3.0));
    }
}
