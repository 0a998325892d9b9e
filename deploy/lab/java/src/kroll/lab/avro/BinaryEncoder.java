package kroll.lab.avro;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Avro binary encoding of plain Java data: records are {@code Map<String,Object>}, arrays
 * {@code List}, maps {@code Map}, strings String, bytes byte[], enums String, numbers boxed.
 */
public final class BinaryEncoder {
    private BinaryEncoder() {}

    public static byte[] encode(Schema s, Object datum) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64);
        write(out, s, datum);
        return out.toByteArray();
    }

    public static void writeLong(ByteArrayOutputStream out, long v) {
        long z = (v << 1) ^ (v >> 63);
        while ((z & ~0x7FL) != 0) {
            out.write((int) ((z & 0x7F) | 0x80));
            z >>>= 7;
        }
        out.write((int) z);
    }

    public static void writeString(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        writeLong(out, b.length);
        out.write(b, 0, b.length);
    }

    @SuppressWarnings("unchecked")
    public static void write(ByteArrayOutputStream out, Schema s, Object d) {
        switch (s.type) {
            case NULL:
                if (d != null) throw new IllegalArgumentException("not null: " + d);
                return;
            case BOOLEAN: out.write(((Boolean) d) ? 1 : 0); return;
            case INT:
            case LONG: writeLong(out, ((Number) d).longValue()); return;
            case FLOAT: {
                int bits = Float.floatToIntBits(((Number) d).floatValue());
                for (int i = 0; i < 4; i++) out.write((bits >>> (8 * i)) & 0xFF);
                return;
            }
            case DOUBLE: {
                long bits = Double.doubleToLongBits(((Number) d).doubleValue());
                for (int i = 0; i < 8; i++) out.write((int) ((bits >>> (8 * i)) & 0xFF));
                return;
            }
            case STRING: writeString(out, (String) d); return;
            case BYTES: {
                byte[] b = (byte[]) d;
                writeLong(out, b.length);
                out.write(b, 0, b.length);
                return;
            }
            case FIXED: {
                byte[] b = (byte[]) d;
                out.write(b, 0, b.length);
                return;
            }
            case ENUM: {
                int idx = s.symbols.indexOf((String) d);
                if (idx < 0) throw new IllegalArgumentException("not an enum symbol: " + d);
                writeLong(out, idx);
                return;
            }
            case RECORD: {
                Map<String, Object> m = (Map<String, Object>) d;
                for (Schema.Field f : s.fields) write(out, f.schema, m.get(f.name));
                return;
            }
            case ARRAY: {
                List<Object> l = (List<Object>) d;
                if (!l.isEmpty()) {
                    writeLong(out, l.size());
                    for (Object o : l) write(out, s.items, o);
                }
                writeLong(out, 0);
                return;
            }
            case MAP: {
                Map<String, Object> m = (Map<String, Object>) d;
                if (!m.isEmpty()) {
                    writeLong(out, m.size());
                    for (Map.Entry<String, Object> e : m.entrySet()) {
                        writeString(out, e.getKey());
                        write(out, s.values, e.getValue());
                    }
                }
                writeLong(out, 0);
                return;
            }
            case UNION: {
                int idx = branchFor(s, d);
                writeLong(out, idx);
                write(out, s.branches.get(idx), d);
                return;
            }
            default: throw new IllegalStateException(s.type.toString());
        }
    }

    private static int branchFor(Schema u, Object d) {
        for (int i = 0; i < u.branches.size(); i++) {
            Schema.Type t = u.branches.get(i).type;
            boolean ok;
            if (d == null) ok = t == Schema.Type.NULL;
            else if (d instanceof Boolean) ok = t == Schema.Type.BOOLEAN;
            else if (d instanceof Integer) ok = t == Schema.Type.INT || t == Schema.Type.LONG;
            else if (d instanceof Long) ok = t == Schema.Type.LONG;
            else if (d instanceof Float) ok = t == Schema.Type.FLOAT || t == Schema.Type.DOUBLE;
            else if (d instanceof Double) ok = t == Schema.Type.DOUBLE;
            else if (d instanceof String) ok = t == Schema.Type.STRING || t == Schema.Type.ENUM;
            else if (d instanceof byte[]) ok = t == Schema.Type.BYTES || t == Schema.Type.FIXED;
            else if (d instanceof List) ok = t == Schema.Type.ARRAY;
            else if (d instanceof Map) ok = t == Schema.Type.RECORD || t == Schema.Type.MAP;
            else ok = false;
            if (ok) return i;
        }
        throw new IllegalArgumentException("no union branch of " + u + " for " + d);
    }
}
