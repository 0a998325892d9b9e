package kroll.lab.sr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import kroll.lab.avro.Compatibility;
import kroll.lab.avro.Schema;
import kroll.lab.avro.SchemaParseException;
import kroll.lab.avro.SchemaParser;
import kroll.lab.common.HttpError;
import kroll.lab.common.HttpService;
import kroll.lab.common.HttpService.Request;
import kroll.lab.common.HttpService.Response;
import kroll.lab.common.Json;

/** Schema Registry's REST subset, with Confluent's error codes and messages. */
final class RegistryApi {
    static final Set<String> LEVELS = Set.of("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
            "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE");

    private final SchemaStore store;

    RegistryApi(SchemaStore store) { this.store = store; }

    void install(HttpService http) {
        http.route("GET", "/", r -> Response.ok(Json.obj()))
            .route("GET", "/subjects", this::listSubjects)
            .route("GET", "/subjects/{s}/versions", this::listVersions)
            .route("GET", "/subjects/{s}/versions/{v}", this::getVersion)
            .route("GET", "/subjects/{s}/versions/{v}/schema", this::getVersionSchema)
            .route("POST", "/subjects/{s}", this::lookup)
            .route("POST", "/subjects/{s}/versions", this::register)
            .route("DELETE", "/subjects/{s}", this::deleteSubject)
            .route("DELETE", "/subjects/{s}/versions/{v}", this::deleteVersion)
            .route("GET", "/schemas/ids/{id}", this::getById)
            .route("GET", "/schemas/ids/{id}/versions", this::idVersions)
            .route("GET", "/config", r -> getGlobalConfig())
            .route("PUT", "/config", this::putGlobalConfig)
            .route("GET", "/config/{s}", this::getConfig)
            .route("PUT", "/config/{s}", this::putConfig)
            .route("DELETE", "/config/{s}", this::deleteConfig)
            .route("POST", "/compatibility/subjects/{s}/versions/{v}", this::testCompatibility)
            .route("POST", "/compatibility/subjects/{s}/versions", this::testCompatibilityAll);
    }

    // ---- errors, as Confluent words them ----

    static HttpError subjectNotFound(String s) { return new HttpError(404, 40401, "Subject '" + s + "' not found."); }

    static HttpError versionNotFound(Object v) { return new HttpError(404, 40402, "Version " + v + " not found."); }

    static HttpError schemaNotFound(Object id) {
        return new HttpError(404, 40403, id == null ? "Schema not found" : "Schema " + id + " not found");
    }

    static HttpError invalidVersion(String v) {
        return new HttpError(422, 42202, "The specified version '" + v + "' is not a valid version id. "
                + "Allowed values are between [1, 2^31-1] and the string \"latest\"");
    }

    static HttpError invalidLevel() {
        return new HttpError(422, 42203, "Invalid compatibility level. Valid values are none, backward, forward, "
                + "full, backward_transitive, forward_transitive, and full_transitive");
    }

    // ---- helpers ----

    private SchemaStore.Subject subject(String name, boolean includeDeleted) {
        SchemaStore.Subject s = store.subjects.get(name);
        if (s == null || s.versions.isEmpty() || (!includeDeleted && !s.live())) throw subjectNotFound(name);
        return s;
    }

    /** Resolves {@code latest}, {@code -1} or a number to a version of the subject. */
    private SchemaStore.Version version(SchemaStore.Subject s, String v, boolean includeDeleted) {
        if ("latest".equals(v) || "-1".equals(v)) {
            SchemaStore.Version latest = includeDeleted && !s.versions.isEmpty() ? s.versions.get(s.versions.size() - 1) : s.latestLive();
            if (latest == null) throw versionNotFound(v);
            return latest;
        }
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw invalidVersion(v);
        }
        if (n < 1) throw invalidVersion(v);
        SchemaStore.Version ver = s.get(n);
        if (ver == null || (ver.deleted && !includeDeleted)) throw versionNotFound(n);
        return ver;
    }

    private static final class Submitted {
        Schema schema;
        String canonical;
    }

    private Submitted parseSchema(Request r) {
        Map<String, Object> body = r.jsonBody();
        Object type = body.get("schemaType");
        if (type != null && !"AVRO".equals(type)) {
            throw new HttpError(422, 42201, "Invalid schema: schema type " + type + " is not supported by the lab registry (AVRO only)");
        }
        List<Object> refs = Json.asList(body.get("references"));
        if (refs != null && !refs.isEmpty()) throw new HttpError(422, 42201, "Invalid schema: schema references are not supported by the lab registry");
        Object text = body.get("schema");
        if (!(text instanceof String)) throw new HttpError(422, 42201, "Empty schema");
        Submitted out = new Submitted();
        try {
            out.schema = SchemaParser.parse((String) text);
        } catch (SchemaParseException e) {
            throw new HttpError(422, 42201, "Invalid schema " + text + " with refs [] of type AVRO, details: " + e.getMessage());
        }
        out.canonical = out.schema.toString();
        return out;
    }

    private String level(String subject) {
        SchemaStore.Subject s = store.subjects.get(subject);
        return s != null && s.compatibility != null ? s.compatibility : store.globalCompatibility;
    }

    /** Incompatibility messages of {@code candidate} against the given versions under a level. */
    private List<String> incompatibilities(Schema candidate, String level, List<SchemaStore.Version> against) {
        List<String> out = new ArrayList<>();
        if ("NONE".equals(level)) return out;
        boolean backward = level.startsWith("BACKWARD") || level.startsWith("FULL");
        boolean forward = level.startsWith("FORWARD") || level.startsWith("FULL");
        for (int i = against.size() - 1; i >= 0; i--) {
            SchemaStore.Version v = against.get(i);
            Schema old = SchemaParser.parse(store.schemaById.get(v.id));
            List<Compatibility.Problem> ps = new ArrayList<>();
            if (backward) ps.addAll(Compatibility.check(candidate, old));
            if (forward) ps.addAll(Compatibility.check(old, candidate));
            if (!ps.isEmpty()) {
                for (Compatibility.Problem p : ps) out.add(p.toString());
                out.add("{oldSchemaVersion: " + v.version + "}");
                out.add("{oldSchema: '" + store.schemaById.get(v.id) + "'}");
                out.add("{compatibility: '" + level + "'}");
                return out;
            }
        }
        return out;
    }

    private List<SchemaStore.Version> comparedVersions(SchemaStore.Subject s, String level) {
        List<SchemaStore.Version> live = new ArrayList<>();
        if (s == null) return live;
        for (SchemaStore.Version v : s.versions) if (!v.deleted) live.add(v);
        if (!level.endsWith("_TRANSITIVE") && live.size() > 1) return List.of(live.get(live.size() - 1));
        return live;
    }

    private static Map<String, Object> versionDoc(String subject, SchemaStore.Version v, String schema) {
        return Json.obj("subject", subject, "version", v.version, "id", v.id, "schema", schema);
    }

    // ---- handlers ----

    private Response listSubjects(Request r) {
        boolean deleted = r.queryFlag("deleted");
        String prefix = r.query("subjectPrefix");
        List<String> out = new ArrayList<>();
        synchronized (store) {
            for (Map.Entry<String, SchemaStore.Subject> e : store.subjects.entrySet()) {
                SchemaStore.Subject s = e.getValue();
                if (s.versions.isEmpty() || (!deleted && !s.live())) continue;
                if (prefix != null && !e.getKey().startsWith(prefix)) continue;
                out.add(e.getKey());
            }
        }
        return Response.ok(out);
    }

    private Response listVersions(Request r) {
        boolean deleted = r.queryFlag("deleted");
        synchronized (store) {
            SchemaStore.Subject s = subject(r.param("s"), deleted);
            List<Integer> out = new ArrayList<>();
            for (SchemaStore.Version v : s.versions) if (deleted || !v.deleted) out.add(v.version);
            return Response.ok(out);
        }
    }

    private Response getVersion(Request r) {
        boolean deleted = r.queryFlag("deleted");
        synchronized (store) {
            SchemaStore.Subject s = subject(r.param("s"), deleted);
            SchemaStore.Version v = version(s, r.param("v"), deleted);
            return Response.ok(versionDoc(r.param("s"), v, store.schemaById.get(v.id)));
        }
    }

    private Response getVersionSchema(Request r) {
        synchronized (store) {
            SchemaStore.Subject s = subject(r.param("s"), false);
            SchemaStore.Version v = version(s, r.param("v"), false);
            return Response.text(200, store.schemaById.get(v.id), "application/vnd.schemaregistry.v1+json");
        }
    }

    private Response lookup(Request r) {
        Submitted sub = parseSchema(r);
        boolean deleted = r.queryFlag("deleted");
        synchronized (store) {
            SchemaStore.Subject s = subject(r.param("s"), deleted);
            for (SchemaStore.Version v : s.versions) {
                if ((deleted || !v.deleted) && store.schemaById.get(v.id).equals(sub.canonical)) {
                    return Response.ok(versionDoc(r.param("s"), v, sub.canonical));
                }
            }
            throw schemaNotFound(null);
        }
    }

    private Response register(Request r) throws IOException {
        Submitted sub = parseSchema(r);
        String name = r.param("s");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            if (s != null) {
                for (SchemaStore.Version v : s.versions) {
                    if (!v.deleted && store.schemaById.get(v.id).equals(sub.canonical)) return Response.ok(Json.obj("id", v.id));
                }
            }
            String level = level(name);
            List<String> msgs = incompatibilities(sub.schema, level, comparedVersions(s, level));
            if (!msgs.isEmpty()) {
                throw new HttpError(409, 409, "Schema being registered is incompatible with an earlier schema for subject \""
                        + name + "\", details: [" + String.join(", ", msgs) + "]");
            }
            int id = store.idFor(sub.canonical);
            int version = 1;
            if (s != null && !s.versions.isEmpty()) version = s.versions.get(s.versions.size() - 1).version + 1;
            store.record(Json.obj("op", "register", "subject", name, "version", version, "id", id, "schema", sub.canonical));
            return Response.ok(Json.obj("id", id));
        }
    }

    private Response deleteSubject(Request r) throws IOException {
        String name = r.param("s");
        boolean permanent = r.queryFlag("permanent");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            if (s == null || s.versions.isEmpty()) throw subjectNotFound(name);
            List<Integer> out = new ArrayList<>();
            if (!permanent) {
                if (!s.live()) throw new HttpError(404, 40404, "Subject '" + name + "' was soft deleted.Set permanent=true to delete permanently");
                for (SchemaStore.Version v : new ArrayList<>(s.versions)) {
                    if (v.deleted) continue;
                    store.record(Json.obj("op", "soft_delete", "subject", name, "version", v.version));
                    out.add(v.version);
                }
            } else {
                if (s.live()) throw new HttpError(404, 40405, "Subject '" + name + "' was not deleted first before being permanently deleted");
                if (s.compatibility != null) store.record(Json.obj("op", "config", "subject", name, "compatibility", null));
                for (SchemaStore.Version v : new ArrayList<>(s.versions)) {
                    store.record(Json.obj("op", "hard_delete", "subject", name, "version", v.version));
                    out.add(v.version);
                }
            }
            return Response.ok(out);
        }
    }

    private Response deleteVersion(Request r) throws IOException {
        String name = r.param("s");
        boolean permanent = r.queryFlag("permanent");
        synchronized (store) {
            SchemaStore.Subject s = subject(name, true);
            String vp = r.param("v");
            boolean latest = "latest".equals(vp) || "-1".equals(vp);
            SchemaStore.Version v = version(s, vp, !latest || permanent);
            if (!permanent) {
                if (v.deleted) {
                    throw new HttpError(404, 40406, "Subject '" + name + "' Version " + v.version
                            + " was soft deleted.Set permanent=true to delete permanently");
                }
                store.record(Json.obj("op", "soft_delete", "subject", name, "version", v.version));
            } else {
                if (!v.deleted) {
                    throw new HttpError(404, 40407, "Subject '" + name + "' Version " + v.version
                            + " was not deleted first before being permanently deleted");
                }
                store.record(Json.obj("op", "hard_delete", "subject", name, "version", v.version));
            }
            return Response.ok(v.version);
        }
    }

    private int id(Request r) {
        try {
            return Integer.parseInt(r.param("id"));
        } catch (NumberFormatException e) {
            throw schemaNotFound(r.param("id"));
        }
    }

    private Response getById(Request r) {
        int id = id(r);
        synchronized (store) {
            String schema = store.schemaById.get(id);
            if (schema == null || !store.referenced(id)) throw schemaNotFound(id);
            return Response.ok(Json.obj("schema", schema));
        }
    }

    private Response idVersions(Request r) {
        int id = id(r);
        synchronized (store) {
            if (!store.referenced(id)) throw schemaNotFound(id);
            List<Object> out = new ArrayList<>();
            for (Map.Entry<String, SchemaStore.Subject> e : store.subjects.entrySet()) {
                for (SchemaStore.Version v : e.getValue().versions) {
                    if (v.id == id && !v.deleted) out.add(Json.obj("subject", e.getKey(), "version", v.version));
                }
            }
            return Response.ok(out);
        }
    }

    private Response getGlobalConfig() {
        synchronized (store) {
            return Response.ok(Json.obj("compatibilityLevel", store.globalCompatibility));
        }
    }

    private static String parseLevel(Request r) {
        Object c = r.jsonBody().get("compatibility");
        if (!(c instanceof String)) throw invalidLevel();
        String level = ((String) c).toUpperCase(Locale.ROOT);
        if (!LEVELS.contains(level)) throw invalidLevel();
        return level;
    }

    private Response putGlobalConfig(Request r) throws IOException {
        String level = parseLevel(r);
        synchronized (store) {
            store.record(Json.obj("op", "config", "subject", null, "compatibility", level));
        }
        return Response.ok(Json.obj("compatibility", level));
    }

    private Response getConfig(Request r) {
        String name = r.param("s");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            if (s != null && s.compatibility != null) return Response.ok(Json.obj("compatibilityLevel", s.compatibility));
            if (r.queryFlag("defaultToGlobal")) return Response.ok(Json.obj("compatibilityLevel", store.globalCompatibility));
            throw new HttpError(404, 40408, "Subject '" + name + "' does not have subject-level compatibility configured");
        }
    }

    private Response putConfig(Request r) throws IOException {
        String level = parseLevel(r);
        synchronized (store) {
            store.record(Json.obj("op", "config", "subject", r.param("s"), "compatibility", level));
        }
        return Response.ok(Json.obj("compatibility", level));
    }

    private Response deleteConfig(Request r) throws IOException {
        String name = r.param("s");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            if (s == null) throw subjectNotFound(name);
            String old = s.compatibility != null ? s.compatibility : store.globalCompatibility;
            if (s.compatibility != null) store.record(Json.obj("op", "config", "subject", name, "compatibility", null));
            return Response.ok(Json.obj("compatibilityLevel", old));
        }
    }

    private Response compatibilityResult(Request r, List<String> msgs) {
        Map<String, Object> out = Json.obj("is_compatible", msgs.isEmpty());
        if (r.queryFlag("verbose")) out.put("messages", msgs);
        return Response.ok(out);
    }

    private Response testCompatibility(Request r) {
        Submitted sub = parseSchema(r);
        String name = r.param("s");
        String v = r.param("v");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            if (s == null || !s.live()) {
                if ("latest".equals(v)) return compatibilityResult(r, List.of());
                throw subjectNotFound(name);
            }
            String level = level(name);
            List<SchemaStore.Version> against = "latest".equals(v) ? comparedVersions(s, level) : List.of(version(s, v, false));
            return compatibilityResult(r, incompatibilities(sub.schema, level, against));
        }
    }

    private Response testCompatibilityAll(Request r) {
        Submitted sub = parseSchema(r);
        String name = r.param("s");
        synchronized (store) {
            SchemaStore.Subject s = store.subjects.get(name);
            String level = level(name);
            List<SchemaStore.Version> live = new ArrayList<>();
            if (s != null) for (SchemaStore.Version x : s.versions) if (!x.deleted) live.add(x);
            return compatibilityResult(r, incompatibilities(sub.schema, level, live));
        }
    }
}
