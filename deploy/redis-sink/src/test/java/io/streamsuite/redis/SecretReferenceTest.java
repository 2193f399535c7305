package io.streamsuite.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Secrets are named in the job graph and read on the TaskManager; their values never appear in errors. */
class SecretReferenceTest {

    @Test
    void readsAnEnvironmentVariableWhenResolved() throws IOException {
        SecretReference ref = new SecretReference("redis.password", "env:REDIS_PASSWORD");
        assertEquals("s3cr\"et", ref.resolve(Map.of("REDIS_PASSWORD", "s3cr\"et")));
    }

    @Test
    void readsAFileWithoutItsTrailingNewline(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("redis-password");
        Files.writeString(file, "from-a-secret\n");
        assertEquals("from-a-secret", new SecretReference("redis.password", "file:" + file).resolve(Map.of()));
    }

    @Test
    void aMissingVariableNamesTheKeyAndTheVariable() {
        IOException e = assertThrows(IOException.class,
                () -> new SecretReference("redis.password", "env:NOT_SET_HERE").resolve(Map.of()));
        assertTrue(e.getMessage().contains("redis.password"));
        assertTrue(e.getMessage().contains("NOT_SET_HERE"));
    }

    @Test
    void anUnreadableFileNamesTheKeyAndThePath(@TempDir Path dir) {
        Path missing = dir.resolve("absent");
        IOException e = assertThrows(IOException.class,
                () -> new SecretReference("redis.password", "file:" + missing).resolve(Map.of()));
        assertTrue(e.getMessage().contains(missing.toString()));
    }

    @Test
    void aLiteralIsRefusedWithoutEchoingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SecretReference("redis.password", "hunter2"));
        assertFalse(e.getMessage().contains("hunter2"));
    }

    @Test
    void emptyMeansNoSecret() throws IOException {
        SecretReference ref = new SecretReference("redis.password", "");
        assertTrue(ref.isEmpty());
        assertNull(ref.resolve(Map.of()));
    }

    @Test
    void aUrlCarryingAPasswordIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RedisHotSinkOptions("redis://:hunter2@127.0.0.1:6379/0", "", 10, 1, 1, 1, 1, 0, 100));
        assertFalse(e.getMessage().contains("hunter2"));
    }
}
