package kroll.lab.test;

import kroll.lab.avro.Schema;
import kroll.lab.connect.debezium.DebeziumSchemas;
import kroll.lab.connect.debezium.SchemaNames;
import kroll.lab.connect.debezium.SchemaNames.Mode;

/** Debezium's schema naming per adjustment mode, on the journal's dashed example. */
public class NamingTest {
    static final String PREFIX = "ct-digikala_fulfillment-slave";
    static final String JOURNAL_OLD = "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts\","
            + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}],\"connect.name\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key\"}";
    static final String JOURNAL_NEW = "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct-digikala_fulfillment-slave.digikala_fulfillment.receipts\","
            + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}],\"connect.name\":\"ct-digikala_fulfillment-slave.digikala_fulfillment.receipts.Key\"}";

    private static Schema key(Mode m) { return DebeziumSchemas.key(PREFIX, "digikala_fulfillment", "receipts", m); }

    public void testAdjusters() {
        Check.eq("ct_a_b.db.t", SchemaNames.adjust("ct-a-b.db.t", Mode.AVRO), "avro");
        Check.eq("ct-a-b.db.t", SchemaNames.adjust("ct-a-b.db.t", Mode.NONE), "none");
        Check.eq("ct_u002da.db.t", SchemaNames.adjust("ct-a.db.t", Mode.AVRO_UNICODE), "avro_unicode");
        Check.eq("_lives.db", SchemaNames.adjust("9lives.db", Mode.AVRO), "invalid first character is replaced");
        Check.eq("a.b_c.d2", SchemaNames.adjust("a.b$c.d2", Mode.AVRO), "other invalid characters");
    }

    public void testJournalKeyNamesExactly() {
        Check.eq(JOURNAL_OLD, key(Mode.AVRO).toString(), "1.9 default (avro) = the journal's previous version");
        Check.eq(JOURNAL_NEW, key(Mode.NONE).toString(), "3.0 default (none) = the journal's new version");
        Check.eq("{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct_u002ddigikala_fulfillment_u002dslave.digikala_fulfillment.receipts\","
                + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}],\"connect.name\":\"ct_u002ddigikala_fulfillment_u002dslave.digikala_fulfillment.receipts.Key\"}",
                key(Mode.AVRO_UNICODE).toString(), "avro_unicode changes the names too (not a cure)");
    }

    public void testUndashedPrefixIsStableInEveryMode() {
        String a = DebeziumSchemas.key("supernova", "digikala", "orders", Mode.AVRO).toString();
        Check.eq(a, DebeziumSchemas.key("supernova", "digikala", "orders", Mode.NONE).toString(), "none");
        Check.eq(a, DebeziumSchemas.key("supernova", "digikala", "orders", Mode.AVRO_UNICODE).toString(), "avro_unicode");
    }

    public void testEnvelopeShapes() {
        String v19 = DebeziumSchemas.envelope(PREFIX, "digikala_fulfillment", "receipts", Mode.AVRO, false).toString();
        String v30 = DebeziumSchemas.envelope(PREFIX, "digikala_fulfillment", "receipts", Mode.NONE, true).toString();
        Check.contains(v19, "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts\",\"fields\":"
                + "[{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":[", "1.9 head");
        Check.contains(v19, "{\"name\":\"transaction\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"ConnectDefault\",\"namespace\":\"io.confluent.connect.avro\"", "1.9 unnamed block");
        Check.contains(v19, "{\"name\":\"after\",\"type\":[\"null\",\"Value\"],\"default\":null}", "after references Value");
        Check.contains(v19, "\"connect.name\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Envelope\"}", "1.9 tail");
        Check.contains(v30, "{\"type\":\"record\",\"name\":\"block\",\"namespace\":\"event\"", "3.0 event.block");
        Check.contains(v30, "{\"name\":\"ts_us\",\"type\":[\"null\",\"long\"],\"default\":null}", "3.0 ts_us");
        Check.contains(v30, "\"connect.version\":2,\"connect.name\":\"ct-digikala_fulfillment-slave.digikala_fulfillment.receipts.Envelope\"}", "3.0 tail");
        Check.contains(v19, "{\"name\":\"weight\",\"type\":[\"null\",\"double\"],\"default\":null}", "1.9 FLOAT is double");
        Check.contains(v30, "{\"name\":\"weight\",\"type\":[\"null\",\"float\"],\"default\":null}", "3.0 FLOAT is float");
    }
}
