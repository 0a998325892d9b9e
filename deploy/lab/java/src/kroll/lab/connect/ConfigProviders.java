package kroll.lab.connect;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kafka's configuration providers (KIP-297, KIP-421) as a Connect worker reads them, so a
 * secret stays out of connector configurations and the environment: the worker's
 * {@code config.providers=file} and {@code config.providers.file.class=
 * org.apache.kafka.common.config.provider.FileConfigProvider}, then a value
 * {@code ${file:<path>:<key>}} stands for {@code <key>} of the properties file at
 * {@code <path>}. As Kafka's {@code ConfigTransformer}: a variable whose provider is not
 * configured, or whose key the file lacks, is left as it is; a file that cannot be read is a
 * {@code ConfigException}. The worker resolves its own properties at start (KIP-421) and each
 * task's configuration when the task starts; what Connect stores and serves
 * ({@code GET /connectors/{n}/config}, {@code …/tasks}) keeps the variables. Only
 * {@code FileConfigProvider} is known to the lab (no {@code DirectoryConfigProvider},
 * {@code EnvVarConfigProvider}, {@code allowed.paths}).
 */
public final class ConfigProviders {
    /** Kafka's FileConfigProvider. */
    public static final String FILE = "org.apache.kafka.common.config.provider.FileConfigProvider";
    /** Kafka's ConfigTransformer pattern: {@code ${provider:[path:]key}}. */
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([^}]*?):(([^}]*?):)?([^}]*?)\\}");

    /** None configured: every value stays as it is. */
    public static final ConfigProviders NONE = new ConfigProviders(Map.of());

    /** alias → provider class. */
    private final Map<String, String> providers;

    private ConfigProviders(Map<String, String> providers) {
        this.providers = providers;
    }

    /** The providers a worker's properties configure ({@code config.providers}, {@code config.providers.<alias>.class}). */
    public static ConfigProviders of(Map<String, String> workerProps) {
        String list = workerProps.getOrDefault("config.providers", "");
        Map<String, String> out = new LinkedHashMap<>();
        for (String alias : list.split(",")) {
            alias = alias.trim();
            if (alias.isEmpty()) continue;
            String cls = workerProps.get("config.providers." + alias + ".class");
            // Kafka skips an alias without a class.
            if (cls == null || cls.isBlank()) continue;
            if (!cls.trim().equals(FILE)) {
                throw new IllegalArgumentException("Invalid value " + cls.trim() + " for configuration config.providers."
                        + alias + ".class: the lab knows only " + FILE);
            }
            out.put(alias, cls.trim());
        }
        return new ConfigProviders(out);
    }

    /** Whether any provider is configured. */
    public boolean any() {
        return !providers.isEmpty();
    }

    /**
     * {@code config} with every variable of a configured provider replaced. Throws a
     * {@code ConfigException} (as {@link LabException}) naming a file that cannot be read.
     */
    public Map<String, String> transform(Map<String, String> config) {
        if (providers.isEmpty()) return config;
        Map<String, Properties> files = new HashMap<>();
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : config.entrySet()) {
            out.put(e.getKey(), e.getValue() == null ? null : resolve(e.getValue(), files));
        }
        return out;
    }

    private String resolve(String value, Map<String, Properties> files) {
        Matcher m = VARIABLE.matcher(value);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String replacement = m.group();
            if (providers.containsKey(m.group(1))) {
                String path = m.group(3) == null ? "" : m.group(3);
                Properties p = path.isEmpty() ? new Properties() : files.computeIfAbsent(path, ConfigProviders::read);
                String v = p.getProperty(m.group(4));
                if (v != null) replacement = v;
            }
            m.appendReplacement(b, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(b);
        return b.toString();
    }

    private static Properties read(String path) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(path), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | RuntimeException e) {
            throw new LabException("org.apache.kafka.common.config.ConfigException", "Could not read properties from file " + path);
        }
        return p;
    }
}
