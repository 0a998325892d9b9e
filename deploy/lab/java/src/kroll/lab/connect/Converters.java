package kroll.lab.connect;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import kroll.lab.avro.BinaryEncoder;
import kroll.lab.avro.Schema;
import kroll.lab.common.HttpJson;
import kroll.lab.common.Json;

/**
 * Record converters as a worker resolves them: the connector's {@code key.converter} /
 * {@code value.converter} override the worker's, and converter settings ({@code *.converter.*})
 * come from the same place. AvroConverter registers schemas in the Schema Registry (subject by
 * TopicNameStrategy unless configured) and writes Confluent's wire format: magic 0, 4-byte
 * big-endian schema id, Avro binary; it logs in to Schema Registry with HTTP basic auth like
 * Confluent's client ({@code basic.auth.credentials.source} {@code USER_INFO} with
 * {@code basic.auth.user.info}, or {@code URL}). JsonConverter and StringConverter are also
 * understood.
 */
public final class Converters {
    private Converters() {}

    public interface Converter {
        byte[] fromConnectData(String topic, Schema schema, Object data);
    }

    public static final String AVRO = "io.confluent.connect.avro.AvroConverter";
    public static final String JSON = "org.apache.kafka.connect.json.JsonConverter";
    public static final String STRING = "org.apache.kafka.connect.storage.StringConverter";

    public static Converter create(boolean isKey, Map<String, String> connector, WorkerConfig worker) {
        String prefix = isKey ? "key.converter" : "value.converter";
        Map<String, String> settings = new HashMap<>();
        String cls;
        if (connector.get(prefix) != null) {
            cls = connector.get(prefix);
            for (Map.Entry<String, String> e : connector.entrySet()) {
                if (e.getKey().startsWith(prefix + ".")) settings.put(e.getKey().substring(prefix.length() + 1), e.getValue());
            }
        } else {
            cls = worker.props.get(prefix);
            for (Map.Entry<String, String> e : worker.props.asMap().entrySet()) {
                if (e.getKey().startsWith(prefix + ".")) settings.put(e.getKey().substring(prefix.length() + 1), e.getValue());
            }
            // the connector may still override single converter settings
            for (Map.Entry<String, String> e : connector.entrySet()) {
                if (e.getKey().startsWith(prefix + ".")) settings.put(e.getKey().substring(prefix.length() + 1), e.getValue());
            }
        }
        switch (cls) {
            case AVRO: return new Avro(isKey, settings);
            case JSON: return new JsonConv(!"false".equalsIgnoreCase(settings.getOrDefault("schemas.enable", "true")));
            case STRING: return (topic, schema, data) -> data == null ? null : Json.write(data).getBytes(StandardCharsets.UTF_8);
            default: throw LabException.connect("Converter class " + cls + " is not available in the lab worker");
        }
    }

    /**
     * The Schema Registry client's basic auth ({@code basic.auth.credentials.source}, default
     * {@code URL}): {@code USER_INFO} sends {@code basic.auth.user.info} (or its older name
     * {@code schema.registry.basic.auth.user.info}), {@code URL} the URL's user info, if any.
     * Null when there is nothing to send.
     */
    public static String basicAuth(Map<String, String> s, String url) {
        String source = s.getOrDefault("basic.auth.credentials.source", "URL").trim().toUpperCase(java.util.Locale.ROOT);
        String userInfo;
        switch (source) {
            case "USER_INFO":
                userInfo = s.get("basic.auth.user.info");
                if (userInfo == null || userInfo.isEmpty()) userInfo = s.get("schema.registry.basic.auth.user.info");
                break;
            case "URL":
                userInfo = java.net.URI.create(url).getRawUserInfo();
                if (userInfo != null) userInfo = java.net.URLDecoder.decode(userInfo, StandardCharsets.UTF_8);
                break;
            default:
                throw new LabException("org.apache.kafka.common.config.ConfigException",
                        "Unknown basic auth credential source provided: " + source + " (the lab knows USER_INFO and URL)");
        }
        if (userInfo == null || userInfo.isEmpty()) return null;
        return "Basic " + java.util.Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code url} without its {@code user:password@} part (never sent, never shown). */
    public static String withoutUserInfo(String url) {
        return url.replaceFirst("^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", "$1");
    }

    static final class Avro implements Converter {
        private final boolean isKey;
        private final String url;
        /** The {@code Authorization} header of every request to Schema Registry, or null. */
        private final String authorization;
        private final boolean autoRegister;
        private final String strategy;
        private final Map<String, Integer> ids = new HashMap<>();

        Avro(boolean isKey, Map<String, String> s) {
            this.isKey = isKey;
            String u = s.get("schema.registry.url");
            if (u == null || u.isBlank()) throw new LabException("org.apache.kafka.common.config.ConfigException",
                    "Missing required configuration \"schema.registry.url\" which has no default value.");
            String first = u.split(",")[0].trim().replaceAll("/+$", "");
            this.authorization = basicAuth(s, first);
            this.url = withoutUserInfo(first);
            this.autoRegister = !"false".equalsIgnoreCase(s.getOrDefault("auto.register.schemas", "true"));
            this.strategy = s.getOrDefault(isKey ? "key.subject.name.strategy" : "value.subject.name.strategy",
                    "io.confluent.kafka.serializers.subject.TopicNameStrategy");
        }

        private String subject(String topic, Schema schema) {
            if (strategy.endsWith("TopicRecordNameStrategy")) return topic + "-" + schema.fullName();
            if (strategy.endsWith("RecordNameStrategy")) return schema.fullName();
            return topic + (isKey ? "-key" : "-value");
        }

        @Override
        public byte[] fromConnectData(String topic, Schema schema, Object data) {
            if (data == null) return null;
            String subject = subject(topic, schema);
            String text = schema.toString();
            String cacheKey = subject + "\u0000" + text;
            Integer id = ids.get(cacheKey);
            if (id == null) {
                id = register(topic, subject, text);
                ids.put(cacheKey, id);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(64);
            out.write(0);
            out.write(id >>> 24);
            out.write(id >>> 16);
            out.write(id >>> 8);
            out.write(id);
            BinaryEncoder.write(out, schema, data);
            return out.toByteArray();
        }

        private int register(String topic, String subject, String text) {
            String path = url + "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20")
                    + (autoRegister ? "/versions" : "");
            HttpJson.Result r;
            try {
                r = HttpJson.call("POST", path, Json.obj("schema", text), 30_000, authorization);
            } catch (IOException e) {
                throw failure(topic, text, new LabException("java.net.ConnectException", e.getMessage() == null ? e.toString() : e.getMessage()));
            }
            if (r.status == 200) {
                Object id = Json.asObject(r.json()).get("id");
                return ((Number) id).intValue();
            }
            String message = r.body;
            Object code = r.status;
            try {
                Map<String, Object> err = Json.asObject(r.json());
                message = String.valueOf(err.get("message"));
                code = err.get("error_code");
            } catch (RuntimeException ignored) {
                // keep the raw body
            }
            throw failure(topic, text, new LabException("io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException",
                    message + "; error code: " + code));
        }

        private LabException failure(String topic, String text, Throwable cause) {
            LabException ser = new LabException("org.apache.kafka.common.errors.SerializationException",
                    (autoRegister ? "Error registering Avro schema" : "Error retrieving Avro schema") + text, cause);
            LabException data = new LabException("org.apache.kafka.connect.errors.DataException",
                    "Failed to serialize Avro data from topic " + topic + " :", ser);
            return LabException.connect("Tolerance exceeded in error handler", data);
        }
    }

    static final class JsonConv implements Converter {
        private final boolean schemas;

        JsonConv(boolean schemas) { this.schemas = schemas; }

        @Override
        public byte[] fromConnectData(String topic, Schema schema, Object data) {
            if (data == null) return null;
            Object doc = schemas ? Json.obj("schema", Json.obj("type", "struct", "name", schema.fullName()), "payload", data) : data;
            return Json.write(doc).getBytes(StandardCharsets.UTF_8);
        }
    }
}
