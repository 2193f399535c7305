package io.streamsuite.redis;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.types.Row;

/**
 * One version-fenced upsert, read from the row a Python operator emits.
 *
 * <p>The row layout is fixed and mirrored by {@code jobs/hot_sink.py}: key, version, fields
 * (name, value, name, value, ...), index key (or null), index score, index member, TTL in ms
 * (0 for none), event time in ms (not written; measures event-to-hot latency).
 */
public final class HotUpsert {
    public static final int ARITY = 8;

    final String key;
    final long version;
    final String[] fields;
    final String indexKey;
    final double indexScore;
    final String indexMember;
    final long ttlMs;
    final long eventTimeMs;

    HotUpsert(String key, long version, String[] fields, String indexKey, double indexScore,
              String indexMember, long ttlMs, long eventTimeMs) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("a hot record has no key");
        }
        if (fields.length % 2 != 0) {
            throw new IllegalArgumentException("hot record " + key + " has an odd number of field names and values");
        }
        this.key = key;
        this.version = version;
        this.fields = fields;
        this.indexKey = indexKey == null || indexKey.isEmpty() ? null : indexKey;
        this.indexScore = indexScore;
        this.indexMember = indexMember == null ? "" : indexMember;
        this.ttlMs = ttlMs;
        this.eventTimeMs = eventTimeMs;
    }

    public static HotUpsert fromRow(Row row) {
        if (row.getArity() != ARITY) {
            throw new IllegalArgumentException("a hot row has " + ARITY + " fields, this one " + row.getArity());
        }
        Object[] raw = row.getFieldAs(2);
        String[] fields = new String[raw == null ? 0 : raw.length];
        for (int i = 0; i < fields.length; i++) {
            fields[i] = String.valueOf(raw[i]);
        }
        return new HotUpsert(row.getFieldAs(0), longOf(row.getField(1)), fields, row.getFieldAs(3),
                doubleOf(row.getField(4)), row.getFieldAs(5), longOf(row.getField(6)), longOf(row.getField(7)));
    }

    private static long longOf(Object value) {
        return value == null ? 0L : ((Number) value).longValue();
    }

    private static double doubleOf(Object value) {
        return value == null ? 0.0 : ((Number) value).doubleValue();
    }

    List<String> keys() {
        return indexKey == null ? List.of(key) : List.of(key, indexKey);
    }

    List<String> args() {
        List<String> args = new ArrayList<>(4 + fields.length);
        args.add(Long.toString(version));
        args.add(scoreText(indexScore));
        args.add(indexMember);
        args.add(Long.toString(ttlMs));
        for (String field : fields) {
            args.add(field);
        }
        return args;
    }

    /** Integral scores as integers (event times in ms), others in Java's shortest round-trip form. */
    static String scoreText(double score) {
        if (score == Math.rint(score) && Math.abs(score) < 1e15) {
            return Long.toString((long) score);
        }
        return Double.toString(score);
    }
}
