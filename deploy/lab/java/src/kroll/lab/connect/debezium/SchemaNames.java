package kroll.lab.connect.debezium;

import java.util.Locale;

/**
 * Debezium's {@code schema.name.adjustment.mode}: {@code none} keeps names, {@code avro} replaces
 * every character invalid in an Avro full name with {@code _}, {@code avro_unicode} replaces it with
 * {@code _uXXXX}. Validity follows Debezium's rule: the first character a letter or {@code _},
 * the others letters, digits, {@code _} or {@code .}.
 */
public final class SchemaNames {
    private SchemaNames() {}

    public enum Mode {
        NONE, AVRO, AVRO_UNICODE;

        public static Mode parse(String s) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "none": return NONE;
                case "avro": return AVRO;
                case "avro_unicode": return AVRO_UNICODE;
                default: throw new IllegalArgumentException(s);
            }
        }
    }

    static boolean letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

    static boolean validFirst(char c) { return c == '_' || letter(c); }

    static boolean validOther(char c) { return c == '.' || validFirst(c) || (c >= '0' && c <= '9'); }

    public static String adjust(String fullName, Mode mode) {
        if (mode == Mode.NONE) return fullName;
        StringBuilder b = new StringBuilder(fullName.length());
        for (int i = 0; i < fullName.length(); i++) {
            char c = fullName.charAt(i);
            boolean ok = i == 0 ? validFirst(c) : validOther(c);
            if (ok) b.append(c);
            else if (mode == Mode.AVRO) b.append('_');
            else b.append(String.format("_u%04x", (int) c));
        }
        return b.toString();
    }
}
