package kroll.lab.kafka;

import java.nio.charset.StandardCharsets;

/** Big-endian Kafka protocol decoding with bounds checks (a short buffer throws). */
public final class WireReader {
    private final byte[] b;
    private int pos;
    private final int end;

    public WireReader(byte[] b) { this(b, 0, b.length); }

    public WireReader(byte[] b, int off, int len) {
        this.b = b;
        this.pos = off;
        this.end = off + len;
    }

    private void need(int n) {
        if (n < 0 || pos + n > end) throw new KafkaException(-1, "malformed response: need " + n + " bytes at " + pos + " of " + end);
    }

    public int remaining() { return end - pos; }

    public int int8() {
        need(1);
        return b[pos++];
    }

    public boolean bool() { return int8() != 0; }

    public int int16() {
        need(2);
        int v = (short) (((b[pos] & 0xff) << 8) | (b[pos + 1] & 0xff));
        pos += 2;
        return v;
    }

    public int int32() {
        need(4);
        int v = ((b[pos] & 0xff) << 24) | ((b[pos + 1] & 0xff) << 16) | ((b[pos + 2] & 0xff) << 8) | (b[pos + 3] & 0xff);
        pos += 4;
        return v;
    }

    public long int64() {
        long hi = int32() & 0xffffffffL;
        long lo = int32() & 0xffffffffL;
        return (hi << 32) | lo;
    }

    public String nullableString() {
        int n = int16();
        if (n < 0) return null;
        need(n);
        String s = new String(b, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    public String string() {
        String s = nullableString();
        if (s == null) throw new KafkaException(-1, "malformed response: null STRING");
        return s;
    }

    public byte[] bytes() {
        int n = int32();
        if (n < 0) return null;
        need(n);
        byte[] out = new byte[n];
        System.arraycopy(b, pos, out, 0, n);
        pos += n;
        return out;
    }

    /** An array length (-1 = null array, treated as empty). */
    public int arrayLength() {
        int n = int32();
        if (n > remaining()) throw new KafkaException(-1, "malformed response: array of " + n + " with " + remaining() + " bytes left");
        return Math.max(0, n);
    }

    public long varlong() {
        long raw = 0;
        int shift = 0;
        while (true) {
            int x = int8() & 0xff;
            raw |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) break;
            shift += 7;
            if (shift > 63) throw new KafkaException(-1, "malformed varlong");
        }
        return (raw >>> 1) ^ -(raw & 1);
    }

    public int varint() { return (int) varlong(); }

    public void skip(int n) {
        need(n);
        pos += n;
    }

    public int position() { return pos; }
}
