package kroll.lab.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Big-endian Kafka protocol encoding (non-flexible versions) into a growable buffer. */
public final class WireWriter {
    private byte[] buf;
    private int len;

    public WireWriter() { this(128); }

    public WireWriter(int cap) { buf = new byte[Math.max(16, cap)]; }

    private void ensure(int n) {
        if (len + n > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
    }

    public int size() { return len; }

    public byte[] toBytes() { return Arrays.copyOf(buf, len); }

    public WireWriter int8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    public WireWriter bool(boolean v) { return int8(v ? 1 : 0); }

    public WireWriter int16(int v) {
        ensure(2);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public WireWriter int32(int v) {
        ensure(4);
        buf[len++] = (byte) (v >>> 24);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    public WireWriter int64(long v) {
        int32((int) (v >>> 32));
        return int32((int) v);
    }

    /** Overwrites 4 bytes at a position written earlier (lengths, CRCs). */
    public void putInt32At(int pos, int v) {
        buf[pos] = (byte) (v >>> 24);
        buf[pos + 1] = (byte) (v >>> 16);
        buf[pos + 2] = (byte) (v >>> 8);
        buf[pos + 3] = (byte) v;
    }

    public WireWriter string(String s) {
        if (s == null) throw new IllegalArgumentException("null STRING");
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int16(b.length);
        return raw(b);
    }

    public WireWriter nullableString(String s) {
        if (s == null) return int16(-1);
        return string(s);
    }

    public WireWriter bytes(byte[] b) {
        if (b == null) return int32(-1);
        int32(b.length);
        return raw(b);
    }

    public WireWriter raw(byte[] b) { return raw(b, 0, b.length); }

    public WireWriter raw(byte[] b, int off, int n) {
        ensure(n);
        System.arraycopy(b, off, buf, len, n);
        len += n;
        return this;
    }

    /** Unsigned varint (as used in record batch v2 with zig-zag for signed values). */
    public WireWriter varint(int v) { return varlong(v); }

    /** Zig-zag varlong. */
    public WireWriter varlong(long v) {
        long z = (v << 1) ^ (v >> 63);
        while ((z & ~0x7FL) != 0) {
            int8((int) ((z & 0x7F) | 0x80));
            z >>>= 7;
        }
        return int8((int) z);
    }

    /** Returns the bytes written from {@code from} to now (a view copy). */
    public byte[] slice(int from) { return Arrays.copyOfRange(buf, from, len); }

    byte[] array() { return buf; }
}
