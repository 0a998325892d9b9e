package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import kroll.lab.kafka.Murmur2;

/** Kafka's own murmur2 vectors (UtilsTest.testMurmur2) and the default partitioner. */
public class Murmur2Test {
    private static int h(String s) { return Murmur2.hash(s.getBytes(StandardCharsets.UTF_8)); }

    public void testKafkaVectors() {
        Check.eq(-973932308, h("21"), "21");
        Check.eq(-790332482, h("foobar"), "foobar");
        Check.eq(-985981536, h("a-little-bit-long-string"), "long");
        Check.eq(-1486304829, h("a-little-bit-longer-string"), "longer");
        Check.eq(-58897971, h("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), "longest");
        Check.eq(479470107, Murmur2.hash(new byte[] {'a', 'b', 'c'}), "abc");
    }

    public void testPartitionIsToPositiveModulo() {
        byte[] k = "21".getBytes(StandardCharsets.UTF_8);
        Check.eq((-973932308 & 0x7fffffff) % 12, Murmur2.partition(k, 12), "partition");
    }

    /** A new key schema id changes the framed key bytes, so most keys land on another partition. */
    public void testNewKeySchemaIdMovesMostKeys() {
        int moved = 0;
        for (long id = 1; id <= 300; id++) {
            java.io.ByteArrayOutputStream a = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            a.writeBytes(new byte[] {0, 0, 0, 0, 1});
            b.writeBytes(new byte[] {0, 0, 0, 0, 2});
            kroll.lab.avro.BinaryEncoder.writeLong(a, id);
            kroll.lab.avro.BinaryEncoder.writeLong(b, id);
            if (Murmur2.partition(a.toByteArray(), 3) != Murmur2.partition(b.toByteArray(), 3)) moved++;
        }
        Check.ok(moved > 150, "keys moved: " + moved + "/300");
    }
}
