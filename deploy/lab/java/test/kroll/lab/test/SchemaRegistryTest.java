package kroll.lab.test;

import java.util.List;
import java.util.Map;
import kroll.lab.common.HttpJson;
import kroll.lab.common.Json;
import kroll.lab.connect.debezium.DebeziumSchemas;
import kroll.lab.connect.debezium.SchemaNames.Mode;

/** The lab Schema Registry end to end on a loopback port, started through its entrypoint. */
public class SchemaRegistryTest implements AutoCloseable {
    private final LabHome lab;
    private Service sr;
    private final int port;

    public SchemaRegistryTest() throws Exception {
        lab = new LabHome("7.7.1");
        port = LabHome.freePort();
    }

    private void start() throws Exception {
        sr = Service.start(lab, "sr", "schema-registry.sh", Map.of(
                "SCHEMA_REGISTRY_HOST_NAME", "schema-registry",
                "SCHEMA_REGISTRY_LISTENERS", "http://127.0.0.1:" + port,
                "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "kafka-01:29091",
                "SCHEMA_REGISTRY_LAB_DATA_DIR", lab.dir("sr-data").toString(),
                "SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx64m"), port).awaitHttp("/", 15_000);
    }

    @Override
    public void close() throws Exception { lab.close(); }

    private static Map<String, Object> schemaBody(Object schema) {
        return Json.obj("schema", schema instanceof String ? schema : schema.toString());
    }

    private HttpJson.Result call(String m, String path, Object body) throws Exception { return sr.call(m, path, body); }

    private static void status(int expected, HttpJson.Result r, String what) { Check.eq(expected, r.status, what + " -> " + r.body); }

    private static Object field(HttpJson.Result r, String name) { return Json.asObject(r.json()).get(name); }

    private static String basic(String user, String password) {
        return "Basic " + java.util.Base64.getEncoder().encodeToString((user + ":" + password).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** SCHEMA_REGISTRY_AUTHENTICATION_METHOD=BASIC with a JAAS file: 401 without or with wrong credentials, 403 without a role. */
    public void testBasicAuthLikeConfluent() throws Exception {
        java.nio.file.Path users = lab.dir("auth").resolve("users");
        java.nio.file.Files.writeString(users, "kroll: s3cret,admin\nguest: guest,reader\n");
        java.nio.file.Path jaas = lab.dir("auth").resolve("jaas.conf");
        java.nio.file.Files.writeString(jaas, "SchemaRegistry-Props {\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\""
                + users + "\"\n  debug=\"false\";\n};\n");
        sr = Service.start(lab, "sr-auth", "schema-registry.sh", Map.of(
                "SCHEMA_REGISTRY_HOST_NAME", "schema-registry",
                "SCHEMA_REGISTRY_LISTENERS", "http://127.0.0.1:" + port,
                "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "kafka-01:29091",
                "SCHEMA_REGISTRY_LAB_DATA_DIR", lab.dir("sr-data").toString(),
                "SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx64m",
                "SCHEMA_REGISTRY_AUTHENTICATION_METHOD", "BASIC",
                "SCHEMA_REGISTRY_AUTHENTICATION_REALM", "SchemaRegistry-Props",
                "SCHEMA_REGISTRY_AUTHENTICATION_ROLES", "admin,developer",
                "SCHEMA_REGISTRY_OPTS", "-Djava.security.auth.login.config=" + jaas), port).awaitHttp("/", 15_000);
        String url = sr.url() + "/config";
        status(401, HttpJson.call("GET", url, null, 5000, null), "no credentials");
        HttpJson.Result wrong = HttpJson.call("GET", url, null, 5000, basic("kroll", "wrong"));
        status(401, wrong, "wrong password");
        Check.eq(401L, ((Number) field(wrong, "error_code")).longValue(), "error_code");
        status(403, HttpJson.call("GET", url, null, 5000, basic("guest", "guest")), "no allowed role");
        status(200, HttpJson.call("GET", url, null, 5000, basic("kroll", "s3cret")), "right credentials");
        Check.contains(sr.logText(), "user kroll", "the refused user is logged");
        Check.eq(false, sr.logText().contains("s3cret"), "the password is not logged");
    }

    public void testRequiresBootstrapServers() throws Exception {
        Service bad = Service.start(lab, "sr-bad", "schema-registry.sh", Map.of("SCHEMA_REGISTRY_HOST_NAME", "x"), 0);
        Check.eq(1, bad.awaitExit(10_000), "exit code");
        Check.contains(bad.logText(), "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS is required.", "message");
    }

    public void testRegistryEndToEnd() throws Exception {
        start();
        status(200, call("GET", "/", null), "root");
        Check.eq("{}", call("GET", "/", null).body, "root body");
        String keySubject = "ct.digikala_fulfillment.receipts-key";
        String valueSubject = "ct.digikala_fulfillment.receipts-value";
        var k19 = DebeziumSchemas.key(NamingTest.PREFIX, "digikala_fulfillment", "receipts", Mode.AVRO);
        var k30 = DebeziumSchemas.key(NamingTest.PREFIX, "digikala_fulfillment", "receipts", Mode.NONE);

        // register, idempotent re-register (other layout), same schema in another subject shares the id
        HttpJson.Result r = call("POST", "/subjects/" + keySubject + "/versions", schemaBody(k19));
        status(200, r, "register key");
        Check.eq(1L, field(r, "id"), "first id");
        Check.eq(1L, field(call("POST", "/subjects/" + keySubject + "/versions", schemaBody(Json.pretty(Json.parse(k19.toString())))), "id"), "same schema, same id");
        Check.eq(1L, field(call("POST", "/subjects/other-key/versions", schemaBody(k19)), "id"), "id shared across subjects");
        Check.eq(List.of(1L), call("GET", "/subjects/" + keySubject + "/versions", null).json(), "one version");

        // the journal's key drift: accepted (namespace-only), new version with a NEW id
        r = call("POST", "/subjects/" + keySubject + "/versions", schemaBody(k30));
        status(200, r, "namespace-only key change");
        Check.eq(2L, field(r, "id"), "new id");
        Map<String, Object> latest = Json.asObject(call("GET", "/subjects/" + keySubject + "/versions/latest", null).json());
        Check.eq(2L, latest.get("version"), "latest version");
        Check.eq(NamingTest.JOURNAL_NEW, latest.get("schema"), "latest schema text");
        Check.eq(NamingTest.JOURNAL_OLD, field(call("GET", "/schemas/ids/1", null), "schema"), "id 1 text");

        // lookup
        r = call("POST", "/subjects/" + keySubject, schemaBody(k19));
        status(200, r, "lookup");
        Check.eq(1L, field(r, "version"), "lookup version");
        status(404, call("POST", "/subjects/nosuch", schemaBody(k19)), "lookup unknown subject");
        Check.eq(40401L, field(call("POST", "/subjects/nosuch", schemaBody(k19)), "error_code"), "40401");
        Check.eq(40403L, field(call("POST", "/subjects/other-key", schemaBody(k30)), "error_code"), "40403 schema not in subject");

        // the 1.9 -> 3.0 envelope: 409 under BACKWARD, verbose check explains, per-subject NONE cures
        var e19 = DebeziumSchemas.envelope(NamingTest.PREFIX, "digikala_fulfillment", "receipts", Mode.AVRO, false);
        var e30 = DebeziumSchemas.envelope(NamingTest.PREFIX, "digikala_fulfillment", "receipts", Mode.AVRO, true);
        status(200, call("POST", "/subjects/" + valueSubject + "/versions", schemaBody(e19)), "register 1.9 envelope");
        r = call("POST", "/subjects/" + valueSubject + "/versions", schemaBody(e30));
        status(409, r, "3.0 envelope rejected");
        Check.eq(409L, field(r, "error_code"), "error_code 409");
        Check.contains((String) field(r, "message"), "Schema being registered is incompatible with an earlier schema for subject \"" + valueSubject + "\"", "message");
        r = call("POST", "/compatibility/subjects/" + valueSubject + "/versions/latest?verbose=true", schemaBody(e30));
        Check.eq(false, field(r, "is_compatible"), "verbose check");
        Check.contains(String.valueOf(field(r, "messages")), "MISSING_UNION_BRANCH", "verbose messages");
        Check.eq(Json.obj("is_compatible", true), call("POST", "/compatibility/subjects/" + valueSubject + "/versions/1", schemaBody(e19)).json(), "compatible with itself");
        Check.eq(40402L, field(call("POST", "/compatibility/subjects/" + valueSubject + "/versions/7", schemaBody(e19)), "error_code"), "40402");
        Check.eq(Json.obj("compatibility", "NONE"), call("PUT", "/config/" + valueSubject, Json.obj("compatibility", "NONE")).json(), "put subject config");
        Check.eq(Json.obj("compatibilityLevel", "NONE"), call("GET", "/config/" + valueSubject, null).json(), "get subject config");
        status(200, call("POST", "/subjects/" + valueSubject + "/versions", schemaBody(e30)), "registered under NONE");
        status(200, call("DELETE", "/config/" + valueSubject, null), "delete subject config");
        Check.eq(40408L, field(call("GET", "/config/" + valueSubject, null), "error_code"), "40408 no subject config");
        Check.eq(Json.obj("compatibilityLevel", "BACKWARD"), call("GET", "/config", null).json(), "global");
        Check.eq(42203L, field(call("PUT", "/config", Json.obj("compatibility", "SIDEWAYS")), "error_code"), "42203");
        Check.eq(42201L, field(call("POST", "/subjects/x/versions", schemaBody("{\"type\":\"record\"}")), "error_code"), "42201");
        Check.eq(42202L, field(call("GET", "/subjects/" + keySubject + "/versions/abc", null), "error_code"), "42202");

        // soft then hard delete
        Check.eq(40405L, field(call("DELETE", "/subjects/other-key?permanent=true", null), "error_code"), "40405 hard before soft");
        Check.eq(List.of(1L), call("DELETE", "/subjects/other-key", null).json(), "soft delete subject");
        Check.eq(40404L, field(call("DELETE", "/subjects/other-key", null), "error_code"), "40404 already soft deleted");
        Check.ok(!((List<?>) call("GET", "/subjects", null).json()).contains("other-key"), "soft-deleted subject hidden");
        Check.ok(((List<?>) call("GET", "/subjects?deleted=true", null).json()).contains("other-key"), "listed with deleted=true");
        Check.eq(40401L, field(call("GET", "/subjects/other-key/versions", null), "error_code"), "versions of soft-deleted subject");
        status(200, call("GET", "/schemas/ids/1", null), "soft-deleted schema still served by id");
        Check.eq(List.of(1L), call("DELETE", "/subjects/other-key?permanent=true", null).json(), "hard delete subject");
        Check.eq(40401L, field(call("DELETE", "/subjects/other-key", null), "error_code"), "gone");
        Check.eq(40407L, field(call("DELETE", "/subjects/" + keySubject + "/versions/1?permanent=true", null), "error_code"), "40407");
        Check.eq(1L, call("DELETE", "/subjects/" + keySubject + "/versions/1", null).json(), "soft delete version");
        Check.eq(40406L, field(call("DELETE", "/subjects/" + keySubject + "/versions/1", null), "error_code"), "40406");
        Check.eq(40402L, field(call("GET", "/subjects/" + keySubject + "/versions/1", null), "error_code"), "soft-deleted version hidden");
        Check.eq(1L, call("DELETE", "/subjects/" + keySubject + "/versions/1?permanent=true", null).json(), "hard delete version");
        Check.eq(List.of(2L), call("GET", "/subjects/" + keySubject + "/versions", null).json(), "remaining versions");
        Check.eq(40403L, field(call("GET", "/schemas/ids/1", null), "error_code"), "hard-deleted id unreferenced");

        // restart: everything survives, ids continue
        sr.stop(false);
        start();
        Check.eq(List.of(keySubject, valueSubject), call("GET", "/subjects", null).json(), "subjects after restart");
        Check.eq(NamingTest.JOURNAL_NEW, field(call("GET", "/subjects/" + keySubject + "/versions/2", null), "schema"), "schema after restart");
        Check.eq(List.of(1L, 2L), call("GET", "/subjects/" + valueSubject + "/versions", null).json(), "value versions after restart");
        r = call("POST", "/subjects/brand-new/versions", schemaBody("{\"type\":\"record\",\"name\":\"N\",\"fields\":[]}"));
        Check.eq(5L, field(r, "id"), "ids continue after restart");
    }
}
