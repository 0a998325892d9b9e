package kroll.lab.test;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A temporary stand-in for an image's {@code /opt/lab} on the host: VERSION and KAFKA_VERSION,
 * {@code bin/} with copies of the entrypoints whose {@code LAB_HOME=}/{@code JAVA_HOME=} lines
 * point here and at the host JDK, {@code lib/} with the built jars. Deleted on close.
 */
public final class LabHome implements AutoCloseable {
    public static final Path JARS = Path.of(System.getProperty("lab.jars", "out"));
    public static final Path ENTRYPOINTS = Path.of(System.getProperty("lab.entrypoints", "entrypoints"));
    public static final String JAVA_HOME = System.getProperty("java.home");

    public final Path root;
    public final Path home;

    /** PATH for entrypoints: busybox applets only, like the images. */
    public String path() { return root.resolve("busybox-bin").toString(); }
    private final List<Service> services = new ArrayList<>();

    public static String kafkaFor(String platform) {
        switch (platform) {
            case "7.1.1": return "3.1.1";
            case "7.7.1": return "3.7.1";
            case "7.8.0": return "3.8.0";
            default: throw new IllegalArgumentException(platform);
        }
    }

    public LabHome(String platform) throws IOException {
        root = Files.createTempDirectory("kroll-labjava-");
        home = root.resolve("opt-lab-" + platform);
        Files.createDirectories(home.resolve("bin"));
        Files.createDirectories(home.resolve("lib"));
        Files.writeString(home.resolve("VERSION"), platform + "\n");
        Files.writeString(home.resolve("KAFKA_VERSION"), kafkaFor(platform) + "\n");
        try (Stream<Path> s = Files.list(ENTRYPOINTS)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String text = Files.readString(p, StandardCharsets.UTF_8)
                        .replace("\nLAB_HOME=/opt/lab\n", "\nLAB_HOME='" + home + "'\n")
                        .replace("\nJAVA_HOME=/opt/java\n", "\nJAVA_HOME='" + JAVA_HOME + "'\n");
                Files.writeString(home.resolve("bin").resolve(p.getFileName()), text);
            }
        }
        // the images have busybox only: the entrypoints run with busybox applets on PATH
        Path bb = Files.createDirectories(root.resolve("busybox-bin"));
        Process list = new ProcessBuilder("busybox", "--list").start();
        for (String applet : new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!applet.isBlank()) Files.createSymbolicLink(bb.resolve(applet.trim()), Path.of("/usr/bin/busybox"));
        }
        try (Stream<Path> s = Files.list(JARS)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.toString().endsWith(".jar")) Files.copy(p, home.resolve("lib").resolve(p.getFileName()));
            }
        }
    }

    /** Another platform version sharing this root (for upgrade tests). */
    public Path dir(String name) throws IOException {
        Path d = root.resolve(name);
        Files.createDirectories(d);
        return d;
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    private boolean hooked;

    synchronized Service track(Service s) {
        services.add(s);
        if (!hooked) {
            hooked = true;
            // if the test JVM is stopped, take our services with it
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Service x : List.copyOf(services)) x.process.destroyForcibly();
            }, "lab-home-reaper"));
        }
        return s;
    }

    @Override
    public void close() throws IOException {
        for (Service s : services) s.close();
        if (Boolean.getBoolean("lab.keep")) {
            System.out.println("kept " + root);
            return;
        }
        if (Files.exists(root)) {
            try (Stream<Path> w = Files.walk(root)) {
                w.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
