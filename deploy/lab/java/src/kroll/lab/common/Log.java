package kroll.lab.common;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** Log lines in the shape Confluent's images print: {@code [time] LEVEL message (logger)}. */
public final class Log {
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS");
    private final String name;

    private Log(String name) { this.name = name; }

    public static Log get(Class<?> c) { return new Log(c.getName()); }

    public static Log get(String name) { return new Log(name); }

    private void emit(String level, String msg, Throwable t) {
        String line = "[" + LocalDateTime.now().format(TS) + "] " + level + " " + msg + " (" + name + ")";
        synchronized (System.out) {
            System.out.println(line);
            if (t != null) t.printStackTrace(System.out);
            System.out.flush();
        }
    }

    public void info(String msg) { emit("INFO", msg, null); }

    public void warn(String msg) { emit("WARN", msg, null); }

    public void warn(String msg, Throwable t) { emit("WARN", msg, t); }

    public void error(String msg) { emit("ERROR", msg, null); }

    public void error(String msg, Throwable t) { emit("ERROR", msg, t); }

    public void debug(String msg) {
        if (DEBUG) emit("DEBUG", msg, null);
    }

    private static final boolean DEBUG = "DEBUG".equalsIgnoreCase(System.getProperty("lab.log.level", ""));
}
