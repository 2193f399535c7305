package io.streamsuite.redis;

import java.io.IOException;
import java.util.List;

/** Applies a batch of upserts in one round trip and says how many were newer than what was stored. */
interface UpsertClient extends AutoCloseable {

    /** Thrown when the batch may be retried: Redis unreachable, restarting or busy. */
    final class Unavailable extends Exception {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    int apply(List<HotUpsert> batch) throws Unavailable, IOException;

    @Override
    void close();
}
