package io.streamsuite.redis;

import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisNoScriptException;
import redis.clients.jedis.util.JedisURIHelper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The upsert script over one Jedis connection: EVALSHA of a script loaded once, pipelined.
 * A restarted Redis has lost its script cache; NOSCRIPT reloads it and the batch is applied
 * again, which the version fence makes harmless.
 */
final class JedisUpsertClient implements UpsertClient {
    static final String SCRIPT = loadScript();

    private final HostAndPort address;
    private final JedisClientConfig clientConfig;
    private final String where;
    private Jedis jedis;
    private String sha;

    /** {@code password} (resolved on the TaskManager) wins over one in the URL; null for none. */
    JedisUpsertClient(URI uri, String password, int timeoutMs) {
        this.address = JedisURIHelper.getHostAndPort(uri);
        this.where = address.toString();
        this.clientConfig = DefaultJedisClientConfig.builder()
                .user(JedisURIHelper.getUser(uri))
                .password(password != null ? password : JedisURIHelper.getPassword(uri))
                .database(JedisURIHelper.getDBIndex(uri))
                .ssl(JedisURIHelper.isRedisSSLScheme(uri))
                .connectionTimeoutMillis(timeoutMs)
                .socketTimeoutMillis(timeoutMs)
                .build();
    }

    @Override
    public int apply(List<HotUpsert> batch) throws Unavailable, IOException {
        try {
            try {
                return pipelined(batch);
            } catch (JedisNoScriptException e) {
                sha = null;
                return pipelined(batch);
            }
        } catch (JedisConnectionException e) {
            close();
            throw new Unavailable("Redis at " + where + " is unreachable (" + e.getMessage() + ")", e);
        } catch (JedisDataException e) {
            String message = String.valueOf(e.getMessage());
            if (message.startsWith("LOADING") || message.startsWith("BUSY") || message.startsWith("TRYAGAIN")
                    || message.startsWith("MASTERDOWN")) {
                throw new Unavailable("Redis at " + where + " cannot write now (" + message + ")", e);
            }
            throw new IOException("Redis at " + where + " refused a hot write: " + message, e);
        }
    }

    private int pipelined(List<HotUpsert> batch) {
        if (jedis == null) {
            jedis = new Jedis(address, clientConfig);
        }
        if (sha == null) {
            sha = jedis.scriptLoad(SCRIPT);
        }
        List<Response<Object>> responses = new ArrayList<>(batch.size());
        try (Pipeline pipeline = jedis.pipelined()) {
            for (HotUpsert upsert : batch) {
                responses.add(pipeline.evalsha(sha, upsert.keys(), upsert.args()));
            }
            pipeline.sync();
        }
        int written = 0;
        for (Response<Object> response : responses) {
            Object result = response.get();
            if (result instanceof Long && (Long) result == 1L) {
                written++;
            }
        }
        return written;
    }

    @Override
    public void close() {
        if (jedis != null) {
            try {
                jedis.close();
            } catch (RuntimeException ignored) {
                // The connection is broken already; a new one is opened on the next batch.
            }
            jedis = null;
        }
    }

    private static String loadScript() {
        try (InputStream in = JedisUpsertClient.class.getResourceAsStream("upsert_if_newer.lua")) {
            if (in == null) {
                throw new IllegalStateException("upsert_if_newer.lua is missing from the redis sink jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
