package kroll.lab.test;

import java.util.List;
import kroll.lab.avro.Compatibility;
import kroll.lab.avro.Schema;
import kroll.lab.avro.SchemaParser;
import kroll.lab.connect.debezium.DebeziumSchemas;
import kroll.lab.connect.debezium.SchemaNames;

public class CompatibilityTest {
    private static Schema p(String s) { return SchemaParser.parse(s); }

    private static Schema rec(String ns, String fields) {
        return p("{\"type\":\"record\",\"name\":\"R\"" + (ns == null ? "" : ",\"namespace\":\"" + ns + "\"") + ",\"fields\":[" + fields + "]}");
    }

    private static boolean canRead(Schema reader, Schema writer) { return Compatibility.canRead(reader, writer); }

    public void testFieldAddRemoveAndDefaults() {
        Schema v1 = rec(null, "{\"name\":\"a\",\"type\":\"int\"}");
        Schema addWithDefault = rec(null, "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}");
        Schema addNoDefault = rec(null, "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}");
        Check.ok(canRead(addWithDefault, v1), "new field with default reads old data");
        Check.ok(!canRead(addNoDefault, v1), "new field without default cannot read old data");
        Check.eq("READER_FIELD_MISSING_DEFAULT_VALUE", Compatibility.check(addNoDefault, v1).get(0).type, "problem type");
        Check.eq("/fields/1", Compatibility.check(addNoDefault, v1).get(0).path, "problem path");
        Check.ok(canRead(v1, addNoDefault), "removing a field is fine for the reader");
    }

    public void testPromotions() {
        String[][] ok = {{"long", "int"}, {"float", "int"}, {"float", "long"}, {"double", "int"}, {"double", "long"},
            {"double", "float"}, {"string", "bytes"}, {"bytes", "string"}};
        for (String[] c : ok) Check.ok(canRead(p("\"" + c[0] + "\""), p("\"" + c[1] + "\"")), c[0] + " reads " + c[1]);
        String[][] bad = {{"int", "long"}, {"float", "double"}, {"long", "float"}, {"int", "string"}, {"boolean", "int"}};
        for (String[] c : bad) Check.ok(!canRead(p("\"" + c[0] + "\""), p("\"" + c[1] + "\"")), c[0] + " cannot read " + c[1]);
    }

    public void testUnions() {
        Check.ok(canRead(p("[\"null\",\"string\"]"), p("\"string\"")), "union reader, plain writer");
        Check.ok(canRead(p("[\"null\",\"long\"]"), p("[\"null\",\"int\"]")), "union branch promotion");
        Check.ok(!canRead(p("\"string\""), p("[\"null\",\"string\"]")), "null branch unreadable");
        Check.ok(!canRead(p("[\"null\",\"float\"]"), p("[\"null\",\"double\"]")), "FLOAT64 -> FLOAT32 breaks");
        Check.eq("MISSING_UNION_BRANCH", Compatibility.check(p("[\"null\",\"float\"]"), p("[\"null\",\"double\"]")).get(0).type, "type");
    }

    public void testNamedTypesMatchByShortName() {
        Schema a = p("{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct_x_y.db.t\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        Schema b = p("{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"ct-x-y.db.t\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        Schema c = p("{\"type\":\"record\",\"name\":\"Other\",\"namespace\":\"ct_x_y.db.t\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        Check.ok(canRead(a, b) && canRead(b, a), "namespace-only change is compatible both ways");
        Check.ok(!canRead(c, a), "a renamed record is not");
        Check.eq("NAME_MISMATCH", Compatibility.check(c, a).get(0).type, "type");
        Schema aliased = p("{\"type\":\"record\",\"name\":\"Other\",\"aliases\":[\"ct_x_y.db.t.Key\"],\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        Check.ok(canRead(aliased, a), "reader alias matches the writer's full name");
    }

    public void testEnumsAndCollections() {
        Schema e1 = p("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}");
        Schema e2 = p("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}");
        Check.ok(canRead(e1, e2), "more symbols read fewer");
        Check.ok(!canRead(e2, e1), "missing symbol");
        Check.ok(canRead(p("{\"type\":\"array\",\"items\":\"long\"}"), p("{\"type\":\"array\",\"items\":\"int\"}")), "array items promote");
        Check.ok(!canRead(p("{\"type\":\"map\",\"values\":\"int\"}"), p("{\"type\":\"map\",\"values\":\"long\"}")), "map values");
    }

    public void testRecursiveTypes() {
        String list = "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
        Check.ok(canRead(p(list), p(list)), "recursive record reads itself");
    }

    /** The brief's inference: Debezium 3.0's envelope cannot read 1.9 data (BACKWARD fails). */
    public void testDebeziumEnvelope19To30IsNotBackwardCompatible() {
        Schema old = DebeziumSchemas.envelope("ct-digikala_fulfillment-slave", "digikala_fulfillment", "receipts", SchemaNames.Mode.AVRO, false);
        Schema neu = DebeziumSchemas.envelope("ct-digikala_fulfillment-slave", "digikala_fulfillment", "receipts", SchemaNames.Mode.AVRO, true);
        List<Compatibility.Problem> ps = Compatibility.check(neu, old);
        Check.ok(!ps.isEmpty(), "3.0 envelope must not read 1.9 data");
        String all = ps.toString();
        Check.contains(all, "MISSING_UNION_BRANCH", "transaction block / FLOAT32 union branches");
        Check.ok(Compatibility.canRead(old, old), "1.9 envelope reads itself");
        // keys: only the namespace can change, which Avro resolution accepts
        Schema k19 = DebeziumSchemas.key("ct-digikala_fulfillment-slave", "digikala_fulfillment", "receipts", SchemaNames.Mode.AVRO);
        Schema k30 = DebeziumSchemas.key("ct-digikala_fulfillment-slave", "digikala_fulfillment", "receipts", SchemaNames.Mode.NONE);
        Check.ok(Compatibility.canRead(k30, k19), "namespace-only key change accepted");
        Check.ne(k19.toString(), k30.toString(), "but the text (and so the id) differs");
    }
}
