package io.streamsuite.redis;

import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;

/** The hot sink's settings, checked when the job is built so a bad value fails before it runs. */
public final class RedisHotSinkOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    final String url;
    final SecretReference password;
    final int maxBatchSize;
    final long maxDelayMs;
    final int maxInFlightBatches;
    final long retryInitialMs;
    final long retryMaxMs;
    final long maxOutageMs;
    final int timeoutMs;

    public RedisHotSinkOptions(String url, String password, int maxBatchSize, long maxDelayMs, int maxInFlightBatches,
                               long retryInitialMs, long retryMaxMs, long maxOutageMs, int timeoutMs) {
        this.url = url;
        this.password = new SecretReference("redis.password", password);
        this.maxBatchSize = require("redis.batch_max_records", maxBatchSize, 1);
        this.maxDelayMs = require("redis.batch_max_delay_ms", maxDelayMs, 0);
        this.maxInFlightBatches = require("redis.max_in_flight_batches", maxInFlightBatches, 1);
        this.retryInitialMs = require("redis.retry_initial_ms", retryInitialMs, 1);
        this.retryMaxMs = require("redis.retry_max_ms", retryMaxMs, retryInitialMs);
        this.maxOutageMs = require("redis.max_outage_ms", maxOutageMs, 0);
        this.timeoutMs = require("redis.timeout_ms", timeoutMs, 1);
        uri();
    }

    URI uri() {
        try {
            URI uri = new URI(url);
            if (!"redis".equals(uri.getScheme()) && !"rediss".equals(uri.getScheme())) {
                throw new IllegalArgumentException("redis.url must start with redis:// or rediss://");
            }
            if (uri.getUserInfo() != null && uri.getUserInfo().contains(":")) {
                throw new IllegalArgumentException("redis.url must not carry a password (it would travel inside the "
                        + "job graph); give it as redis.password");
            }
            return uri;
        } catch (URISyntaxException e) {
            // Not e.getMessage(): it quotes the whole URL, password included.
            throw new IllegalArgumentException("redis.url is not a valid URL (at character " + e.getIndex() + ")");
        }
    }

    private static <T extends Number> T require(String key, T value, long atLeast) {
        if (value.longValue() < atLeast) {
            throw new IllegalArgumentException(key + " must be at least " + atLeast + ", not " + value);
        }
        return value;
    }
}
