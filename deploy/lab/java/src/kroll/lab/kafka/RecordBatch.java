package kroll.lab.kafka;

import java.util.List;
import java.util.zip.CRC32C;

/**
 * Record batch v2 (magic 2) encoding, uncompressed, non-transactional, no idempotence
 * (producer id -1), CreateTime timestamps, CRC32C over attributes..end.
 */
public final class RecordBatch {
    private RecordBatch() {}

    public static final class Record {
        public final byte[] key;
        public final byte[] value;
        public final long timestamp;

        public Record(byte[] key, byte[] value, long timestamp) {
            this.key = key;
            this.value = value;
            this.timestamp = timestamp;
        }
    }

    public static byte[] encode(List<Record> records) {
        if (records.isEmpty()) throw new IllegalArgumentException("empty batch");
        long base = records.get(0).timestamp;
        long max = base;
        for (Record r : records) max = Math.max(max, r.timestamp);
        WireWriter w = new WireWriter(64 + records.size() * 32);
        w.int64(0L);                 // baseOffset
        int lengthPos = w.size();
        w.int32(0);                  // batchLength, patched
        w.int32(-1);                 // partitionLeaderEpoch
        w.int8(2);                   // magic
        int crcPos = w.size();
        w.int32(0);                  // crc, patched
        int attrsPos = w.size();
        w.int16(0);                  // attributes
        w.int32(records.size() - 1); // lastOffsetDelta
        w.int64(base);               // baseTimestamp
        w.int64(max);                // maxTimestamp
        w.int64(-1L);                // producerId
        w.int16(-1);                 // producerEpoch
        w.int32(-1);                 // baseSequence
        w.int32(records.size());
        WireWriter rec = new WireWriter(64);
        for (int i = 0; i < records.size(); i++) {
            Record r = records.get(i);
            rec = new WireWriter(32 + (r.key == null ? 0 : r.key.length) + (r.value == null ? 0 : r.value.length));
            rec.int8(0);                       // attributes
            rec.varlong(r.timestamp - base);   // timestampDelta
            rec.varint(i);                     // offsetDelta
            if (r.key == null) rec.varint(-1); else rec.varint(r.key.length).raw(r.key);
            if (r.value == null) rec.varint(-1); else rec.varint(r.value.length).raw(r.value);
            rec.varint(0);                     // headers
            w.varint(rec.size());
            w.raw(rec.array(), 0, rec.size());
        }
        w.putInt32At(lengthPos, w.size() - lengthPos - 4);
        CRC32C crc = new CRC32C();
        crc.update(w.array(), attrsPos, w.size() - attrsPos);
        w.putInt32At(crcPos, (int) crc.getValue());
        return w.toBytes();
    }
}
