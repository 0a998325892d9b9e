package kroll.lab.common;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The software version a lab process runs, read from the image: {@code /opt/lab/VERSION} (the
 * platform version, e.g. 7.7.1) and {@code /opt/lab/KAFKA_VERSION} (e.g. 3.7.1). Host-process
 * tests (no image) point at another directory with the system property {@code kroll.lab.dir};
 * nothing else (no flag, no environment variable) can change what version a process runs.
 */
public final class LabVersion {
    public final String platform;
    public final String kafka;

    private LabVersion(String platform, String kafka) {
        this.platform = platform;
        this.kafka = kafka;
    }

    public static LabVersion load() {
        Path dir = Path.of(System.getProperty("kroll.lab.dir", "/opt/lab"));
        String p = read(dir.resolve("VERSION"));
        String k = read(dir.resolve("KAFKA_VERSION"));
        return new LabVersion(p, k);
    }

    private static String read(Path f) {
        try {
            String v = new String(Files.readAllBytes(f), StandardCharsets.UTF_8).trim();
            if (v.isEmpty()) throw new IllegalStateException(f + " is empty");
            return v;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the lab version file " + f + ": " + e, e);
        }
    }

    /** Compares dotted versions numerically: negative, zero or positive like compareTo. */
    public static int compare(String a, String b) {
        String[] x = a.split("[.-]");
        String[] y = b.split("[.-]");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int u = i < x.length ? num(x[i]) : 0;
            int v = i < y.length ? num(y[i]) : 0;
            if (u != v) return Integer.compare(u, v);
        }
        return 0;
    }

    private static int num(String s) {
        try { return Integer.parseInt(s); } catch (NumberFormatException e) { return 0; }
    }

    public boolean kafkaAtLeast(String v) { return compare(kafka, v) >= 0; }

    public boolean platformAtLeast(String v) { return compare(platform, v) >= 0; }

    @Override
    public String toString() { return platform + " (Kafka " + kafka + ")"; }
}
