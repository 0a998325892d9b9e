package kroll.lab.common;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/** Service configuration: a properties file (written by the entrypoint from the environment). */
public final class Props {
    private final Map<String, String> map = new TreeMap<>();

    public Props() {}

    public Props(Map<String, String> m) { map.putAll(m); }

    public static Props load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Props out = new Props();
        for (String k : p.stringPropertyNames()) out.map.put(k, p.getProperty(k));
        return out;
    }

    /**
     * Confluent images' env → property mapping: strip the prefix, lower-case, then
     * {@code ___}→{@code -}, {@code __}→{@code _}, {@code _}→{@code .}.
     */
    public static String envToProperty(String envName, String prefix) {
        String n = envName.substring(prefix.length()).toLowerCase();
        return n.replace("___", "-").replace("__", "\u0000").replace("_", ".").replace("\u0000", "_");
    }

    public String get(String k) { return map.get(k); }

    public String get(String k, String def) {
        String v = map.get(k);
        return v == null || v.isEmpty() ? def : v;
    }

    public long getLong(String k, long def) {
        String v = map.get(k);
        if (v == null || v.isBlank()) return def;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid value " + v + " for configuration " + k + ": Not a number of type LONG");
        }
    }

    public int getInt(String k, int def) { return (int) getLong(k, def); }

    public double getDouble(String k, double def) {
        String v = map.get(k);
        if (v == null || v.isBlank()) return def;
        return Double.parseDouble(v.trim());
    }

    public boolean getBool(String k, boolean def) {
        String v = map.get(k);
        return v == null || v.isBlank() ? def : Boolean.parseBoolean(v.trim());
    }

    public void put(String k, String v) { map.put(k, v); }

    public boolean has(String k) { return map.containsKey(k); }

    public Map<String, String> asMap() { return map; }
}
