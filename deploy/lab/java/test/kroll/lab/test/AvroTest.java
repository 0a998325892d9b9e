package kroll.lab.test;

import java.util.HexFormat;
import java.util.Map;
import kroll.lab.avro.BinaryEncoder;
import kroll.lab.avro.Schema;
import kroll.lab.avro.SchemaParseException;
import kroll.lab.avro.SchemaParser;
import kroll.lab.common.Json;

public class AvroTest {
    private static String hex(byte[] b) { return HexFormat.of().formatHex(b); }

    public void testLongZigZagVarint() {
        Schema l = Schema.primitive(Schema.Type.LONG);
        Check.eq("00", hex(BinaryEncoder.encode(l, 0L)), "0");
        Check.eq("01", hex(BinaryEncoder.encode(l, -1L)), "-1");
        Check.eq("02", hex(BinaryEncoder.encode(l, 1L)), "1");
        Check.eq("7f", hex(BinaryEncoder.encode(l, -64L)), "-64");
        Check.eq("8001", hex(BinaryEncoder.encode(l, 64L)), "64");
        Check.eq("feffffffffffffffff01", hex(BinaryEncoder.encode(l, Long.MAX_VALUE)), "max");
        Check.eq("ffffffffffffffffff01", hex(BinaryEncoder.encode(l, Long.MIN_VALUE)), "min");
    }

    public void testStringUnionRecord() {
        Schema s = SchemaParser.parse("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},"
                + "{\"name\":\"b\",\"type\":[\"null\",\"long\"]},{\"name\":\"c\",\"type\":[\"null\",\"long\"]},{\"name\":\"d\",\"type\":\"boolean\"}]}");
        Map<String, Object> d = Json.obj("a", "foo", "b", null, "c", 3L, "d", true);
        // "foo" = len 3 (06) + bytes; null branch 0; branch 1 + 3 (06); true 01
        Check.eq("06666f6f00020601", hex(BinaryEncoder.encode(s, d)), "record bytes");
    }

    public void testFloatDoubleLittleEndian() {
        Check.eq("0000803f", hex(BinaryEncoder.encode(Schema.primitive(Schema.Type.FLOAT), 1.0f)), "float 1.0");
        Check.eq("000000000000f03f", hex(BinaryEncoder.encode(Schema.primitive(Schema.Type.DOUBLE), 1.0)), "double 1.0");
    }

    public void testJournalKeySchemaCanonicalText() {
        String pretty = "{\n    \"type\": \"record\",\n    \"name\": \"Key\",\n"
                + "    \"namespace\": \"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts\",\n"
                + "    \"fields\": [\n        {\n            \"name\": \"id\",\n            \"type\": \"long\"\n        }\n    ],\n"
                + "    \"connect.name\": \"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key\"\n}";
        Check.eq("{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts\","
                + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}],\"connect.name\":\"ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key\"}",
                SchemaParser.parse(pretty).toString(), "canonical");
    }

    public void testNamesReferencesAndNamespaceInheritance() {
        String text = "{\"type\":\"record\",\"name\":\"E\",\"namespace\":\"a.b\",\"fields\":["
                + "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}],\"default\":null},"
                + "{\"name\":\"after\",\"type\":[\"null\",\"V\"],\"default\":null},"
                + "{\"name\":\"other\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"c\",\"fields\":[{\"name\":\"v\",\"type\":\"a.b.V\"}]}}]}";
        Schema s = SchemaParser.parse(text);
        Check.eq("a.b.V", s.field("after").schema.branches.get(1).fullName(), "short reference resolved in namespace");
        Check.ok(s.field("before").schema.branches.get(1) == s.field("after").schema.branches.get(1), "same named type");
        Check.eq(text.replace("\"type\":\"a.b.V\"", "\"type\":\"a.b.V\""), s.toString(), "rewrite keeps references");
    }

    public void testPrimitiveWithPropsKept() {
        String t = "{\"type\":\"string\",\"connect.version\":1,\"connect.name\":\"io.debezium.data.Enum\"}";
        Check.eq(t, SchemaParser.parse(t).toString(), "props on primitive");
        Check.eq("\"long\"", SchemaParser.parse("{\"type\":\"long\"}").toString(), "plain primitive");
    }

    public void testInvalidSchemas() {
        for (String bad : new String[] {"{\"type\":\"record\",\"name\":\"R\"}", "\"nosuch\"", "{\"type\":\"record\",\"fields\":[]}",
                "[\"null\",[\"int\"]]", "{\"type\":\"array\"}", "not json"}) {
            Check.raises(SchemaParseException.class, () -> SchemaParser.parse(bad), bad);
        }
    }
}
