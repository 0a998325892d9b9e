package kroll.lab.avro;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import kroll.lab.common.Json;

/**
 * Writes a schema as compact JSON in the member order Avro's {@code Schema.toString()} uses
 * (type, name, namespace, doc, fields/symbols/size, props, aliases). Confluent's registry keys its
 * schema ids on that canonical text, so two texts that differ only in layout share an id.
 */
public final class SchemaWriter {
    private final StringBuilder b = new StringBuilder();
    private final Set<String> written = new HashSet<>();

    public static String write(Schema s) {
        SchemaWriter w = new SchemaWriter();
        w.schema(s, null);
        return w.b.toString();
    }

    private void schema(Schema s, String ns) {
        switch (s.type) {
            case UNION:
                b.append('[');
                for (int i = 0; i < s.branches.size(); i++) {
                    if (i > 0) b.append(',');
                    schema(s.branches.get(i), ns);
                }
                b.append(']');
                return;
            case RECORD:
            case ENUM:
            case FIXED:
                named(s, ns);
                return;
            case ARRAY:
                b.append("{\"type\":\"array\",\"items\":");
                schema(s.items, ns);
                props(s.props);
                b.append('}');
                return;
            case MAP:
                b.append("{\"type\":\"map\",\"values\":");
                schema(s.values, ns);
                props(s.props);
                b.append('}');
                return;
            default:
                if (s.props.isEmpty()) {
                    b.append('"').append(s.type.lower()).append('"');
                } else {
                    b.append("{\"type\":\"").append(s.type.lower()).append('"');
                    props(s.props);
                    b.append('}');
                }
        }
    }

    private void named(Schema s, String ns) {
        String full = s.fullName();
        if (written.contains(full)) {
            String ref = s.namespace != null && s.namespace.equals(ns) ? s.name : full;
            b.append(Json.quote(ref));
            return;
        }
        written.add(full);
        b.append("{\"type\":\"").append(s.type.lower()).append("\",\"name\":").append(Json.quote(s.name));
        if (s.namespace != null) {
            if (!s.namespace.equals(ns)) b.append(",\"namespace\":").append(Json.quote(s.namespace));
        } else if (ns != null) {
            b.append(",\"namespace\":\"\"");
        }
        if (s.doc != null) b.append(",\"doc\":").append(Json.quote(s.doc));
        String inner = s.namespace;
        switch (s.type) {
            case RECORD:
                b.append(",\"fields\":[");
                for (int i = 0; i < s.fields.size(); i++) {
                    Schema.Field f = s.fields.get(i);
                    if (i > 0) b.append(',');
                    b.append("{\"name\":").append(Json.quote(f.name)).append(",\"type\":");
                    schema(f.schema, inner);
                    if (f.doc != null) b.append(",\"doc\":").append(Json.quote(f.doc));
                    if (f.hasDefault) b.append(",\"default\":").append(Json.write(f.defaultValue));
                    if (f.order != null && !"ascending".equals(f.order)) b.append(",\"order\":").append(Json.quote(f.order));
                    if (!f.aliases.isEmpty()) b.append(",\"aliases\":").append(Json.write(f.aliases));
                    props(f.props);
                    b.append('}');
                }
                b.append(']');
                break;
            case ENUM:
                b.append(",\"symbols\":").append(Json.write(s.symbols));
                if (s.enumDefault != null) b.append(",\"default\":").append(Json.quote(s.enumDefault));
                break;
            default:
                b.append(",\"size\":").append(s.size);
        }
        props(s.props);
        if (!s.aliases.isEmpty()) b.append(",\"aliases\":").append(Json.write(s.aliases));
        b.append('}');
    }

    private void props(Map<String, Object> props) {
        for (Map.Entry<String, Object> e : props.entrySet()) {
            b.append(',').append(Json.quote(e.getKey())).append(':').append(Json.write(e.getValue()));
        }
    }
}
