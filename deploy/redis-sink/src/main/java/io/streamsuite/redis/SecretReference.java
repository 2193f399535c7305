package io.streamsuite.redis;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;

/**
 * A secret named in the job graph and read where the writer opens: {@code env:NAME} (a variable of
 * the TaskManager's environment) or {@code file:/path} (e.g. a mounted Kubernetes Secret), so the
 * value itself never travels with the job. Empty means no secret.
 */
final class SecretReference implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final String reference;

    SecretReference(String key, String reference) {
        this.key = key;
        this.reference = reference == null ? "" : reference;
        if (!this.reference.isEmpty() && !this.reference.startsWith("env:") && !this.reference.startsWith("file:/")) {
            throw new IllegalArgumentException(key + " must be env:NAME or file:/path (the value itself would travel "
                    + "inside the job graph)");
        }
    }

    boolean isEmpty() {
        return reference.isEmpty();
    }

    /** The value, read now (on the TaskManager); null when there is no reference. */
    String resolve() throws IOException {
        return resolve(System.getenv());
    }

    String resolve(Map<String, String> environment) throws IOException {
        return resolve(environment::get);
    }

    private String resolve(Function<String, String> environment) throws IOException {
        if (reference.isEmpty()) {
            return null;
        }
        if (reference.startsWith("env:")) {
            String name = reference.substring(4);
            String value = environment.apply(name);
            if (value == null) {
                throw new IOException(key + " names the environment variable " + name
                        + ", which this TaskManager does not have; set it on the TaskManagers (e.g. from a Secret)");
            }
            return value;
        }
        Path path = Path.of(reference.substring(5));
        try {
            String value = Files.readString(path, StandardCharsets.UTF_8);
            return value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
        } catch (IOException e) {
            throw new IOException(key + " names the file " + path + ", which this TaskManager cannot read ("
                    + e.getClass().getSimpleName() + ")");
        }
    }
}
