package kroll.lab.connect;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * An exception that prints under the class name the real component would use (e.g.
 * {@code org.apache.kafka.connect.errors.ConnectException}), so task traces read like Connect's.
 * The stack frames are the lab's own.
 */
public class LabException extends RuntimeException {
    private final String shownClass;

    public LabException(String shownClass, String message) {
        super(message);
        this.shownClass = shownClass;
    }

    public LabException(String shownClass, String message, Throwable cause) {
        super(message, cause);
        this.shownClass = shownClass;
    }

    public static LabException connect(String message) {
        return new LabException("org.apache.kafka.connect.errors.ConnectException", message);
    }

    public static LabException connect(String message, Throwable cause) {
        return new LabException("org.apache.kafka.connect.errors.ConnectException", message, cause);
    }

    @Override
    public String toString() {
        String m = getLocalizedMessage();
        return m == null ? shownClass : shownClass + ": " + m;
    }

    /** Connect's task trace: the full stack trace text. */
    public static String trace(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }
}
