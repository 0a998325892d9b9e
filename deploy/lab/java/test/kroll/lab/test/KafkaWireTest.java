package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.RecordBatch;
import kroll.lab.kafka.Requests;
import kroll.lab.kafka.TopicPartition;
import kroll.lab.kafka.WireReader;

/** Kafka protocol encodings checked byte for byte against layouts derived from the protocol spec. */
public class KafkaWireTest {
    private static final HexFormat HEX = HexFormat.of();

    private static String hex(byte[] b) { return HEX.formatHex(b); }

    private static byte[] unhex(String s) { return HEX.parseHex(s.replace(" ", "")); }

    public void testCrc32cIsCastagnoli() {
        CRC32C c = new CRC32C();
        c.update("123456789".getBytes(StandardCharsets.US_ASCII));
        Check.eq(0xE3069283L, c.getValue(), "CRC-32C check value");
    }

    public void testRecordBatchV2Layout() {
        byte[] b = RecordBatch.encode(List.of(new RecordBatch.Record(new byte[] {'k'}, new byte[] {'v'}, 1000L)));
        String afterCrc = "0000" + "00000000" + "00000000000003e8" + "00000000000003e8" + "ffffffffffffffff" + "ffff" + "ffffffff"
                + "00000001" + "10" + "00" + "00" + "00" + "02" + "6b" + "02" + "76" + "00";
        CRC32C c = new CRC32C();
        c.update(unhex(afterCrc));
        String crc = String.format("%08x", c.getValue());
        String expected = "0000000000000000" + "0000003a" + "ffffffff" + "02" + crc + afterCrc;
        Check.eq(expected, hex(b), "record batch bytes");
    }

    public void testRecordBatchNullKeyAndDeltas() {
        byte[] b = RecordBatch.encode(List.of(new RecordBatch.Record(null, new byte[] {1}, 5000L),
                new RecordBatch.Record(null, new byte[] {2}, 5001L)));
        String h = hex(b);
        // second record: length 7, attrs 0, timestampDelta 1 (zig-zag 02), offsetDelta 1 (02), key -1 (01), value len 1 (02) 02, headers 0
        Check.ok(h.endsWith("0e000000010201" + "00" + "0e00020201020200"), "records: " + h);
        Check.eq("00000001", h.substring(46, 54), "lastOffsetDelta");
    }

    public void testMetadataRequests() {
        Check.eq("00000001000174", hex(Requests.metadata(1, List.of("t"), true)), "v1 one topic");
        Check.eq("ffffffff", hex(Requests.metadata(1, null, false)), "v1 all topics");
        Check.eq("0000000100017401", hex(Requests.metadata(4, List.of("t"), true)), "v4 auto-create");
        Check.eq("00000000000000", hex(Requests.metadata(8, List.of(), false)), "v8 no topics, no authorized ops");
    }

    public void testProduceRequest() {
        Check.eq("ffff" + "ffff" + "00007530" + "00000001" + "000174" + "00000001" + "00000002" + "00000003" + "aabbcc",
                hex(Requests.produce(7, "t", 2, unhex("aabbcc"), -1, 30000)), "produce v7");
    }

    public void testListOffsetsRequest() {
        Map<TopicPartition, Long> m = new TreeMap<>();
        m.put(new TopicPartition("t", 0), -1L);
        Check.eq("ffffffff" + "00000001000174" + "00000001" + "00000000" + "ffffffffffffffff",
                hex(Requests.listOffsets(1, m)), "v1");
        Check.eq("ffffffff" + "00" + "00000001000174" + "00000001" + "00000000" + "ffffffff" + "ffffffffffffffff",
                hex(Requests.listOffsets(5, m)), "v5");
    }

    public void testGroupRequests() {
        Map<TopicPartition, Long> m = Map.of(new TopicPartition("t", 0), 42L);
        Check.eq("000167" + "ffffffff" + "0000" + "ffffffffffffffff" + "00000001000174" + "00000001" + "00000000" + "000000000000002a" + "0000",
                hex(Requests.offsetCommit(2, "g", m)), "OffsetCommit v2");
        Check.eq("000167" + "ffffffff" + "0000" + "ffff" + "00000001000174" + "00000001" + "00000000" + "000000000000002a" + "ffffffff" + "0000",
                hex(Requests.offsetCommit(7, "g", m)), "OffsetCommit v7");
        Check.eq("000167" + "00000001000174" + "00000001" + "00000000", hex(Requests.offsetFetch(5, "g", List.of(new TopicPartition("t", 0)))), "OffsetFetch");
        Check.eq("00016700", hex(Requests.findCoordinator(2, "g")), "FindCoordinator v2");
        Check.eq("000167", hex(Requests.findCoordinator(0, "g")), "FindCoordinator v0");
    }

    public void testCreateTopicRequest() {
        Check.eq("00000001" + "000174" + "00000003" + "0003" + "00000000" + "00000001" + "0001" + "61" + "0001" + "62" + "00007530" + "00",
                hex(Requests.createTopic(4, "t", 3, 3, Map.of("a", "b"), 30000)), "CreateTopics v4");
    }

    public void testDecodeMetadataV7() {
        String resp = "00000000"                                  // throttle
                + "00000001" + "00000001" + "0009" + HEX.formatHex("127.0.0.1".getBytes()) + "00002382" + "ffff" // broker 1
                + "0003" + "616263"                               // cluster id "abc"
                + "00000001"                                      // controller
                + "00000001" + "0000" + "000174" + "00"           // topic t
                + "00000001" + "0000" + "00000000" + "00000001" + "00000005" // partition 0 leader 1 epoch 5
                + "00000001" + "00000001" + "00000001" + "00000001" + "00000000"; // replicas [1] isr [1] offline []
        Cluster c = KafkaClient.decodeMetadata(7, new WireReader(unhex(resp)));
        Check.eq("abc", c.clusterId, "cluster id");
        Check.eq(1, c.controllerId, "controller");
        Check.eq("127.0.0.1:9090", c.brokers.get(1).address(), "broker");
        Check.eq(1, c.topics.get("t").partition(0).leader, "leader");
    }
}
