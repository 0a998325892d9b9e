package kroll.lab.avro;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import kroll.lab.common.Json;

/**
 * Parses Avro schema JSON. Named types are registered by full name so later references resolve;
 * names are not validated (Confluent's registry accepted the journal's dashed namespaces).
 */
public final class SchemaParser {
    private static final Set<String> RECORD_KEYS = Set.of("type", "name", "namespace", "doc", "fields", "aliases");
    private static final Set<String> FIELD_KEYS = Set.of("name", "type", "doc", "default", "order", "aliases");
    private static final Set<String> ENUM_KEYS = Set.of("type", "name", "namespace", "doc", "symbols", "aliases", "default");
    private static final Set<String> FIXED_KEYS = Set.of("type", "name", "namespace", "doc", "size", "aliases");

    private final Map<String, Schema> names = new LinkedHashMap<>();

    public static Schema parse(String json) {
        Object v;
        try {
            v = Json.parse(json);
        } catch (Json.ParseException e) {
            throw new SchemaParseException("Invalid schema JSON: " + e.getMessage());
        }
        return new SchemaParser().parse(v, null);
    }

    private Schema parse(Object v, String ns) {
        if (v instanceof String) {
            String s = (String) v;
            Schema.Type t = Schema.Type.primitive(s);
            if (t != null) return new Schema(t);
            Schema named = lookup(s, ns);
            if (named == null) throw new SchemaParseException("Undefined name: \"" + s + "\"");
            return named;
        }
        if (v instanceof List) {
            Schema u = new Schema(Schema.Type.UNION);
            for (Object b : (List<?>) v) {
                Schema bs = parse(b, ns);
                if (bs.type == Schema.Type.UNION) throw new SchemaParseException("Nested union: " + Json.write(v));
                u.branches.add(bs);
            }
            return u;
        }
        Map<String, Object> o = Json.asObject(v);
        if (o == null) throw new SchemaParseException("Not a schema: " + Json.write(v));
        Object typeV = o.get("type");
        if (typeV == null) throw new SchemaParseException("No type: " + Json.write(v));
        if (!(typeV instanceof String)) {
            return parse(typeV, ns); // {"type": {...}} or {"type": [...]}
        }
        String type = (String) typeV;
        Schema.Type prim = Schema.Type.primitive(type);
        if (prim != null) {
            Schema s = new Schema(prim);
            for (Map.Entry<String, Object> e : o.entrySet()) if (!e.getKey().equals("type")) s.props.put(e.getKey(), e.getValue());
            return s;
        }
        switch (type) {
            case "record":
            case "error": return record(o, ns);
            case "enum": return enumType(o, ns);
            case "fixed": return fixed(o, ns);
            case "array": {
                Schema s = new Schema(Schema.Type.ARRAY);
                if (!o.containsKey("items")) throw new SchemaParseException("Array has no items type");
                s.items = parse(o.get("items"), ns);
                props(s, o, Set.of("type", "items"));
                return s;
            }
            case "map": {
                Schema s = new Schema(Schema.Type.MAP);
                if (!o.containsKey("values")) throw new SchemaParseException("Map has no values type");
                s.values = parse(o.get("values"), ns);
                props(s, o, Set.of("type", "values"));
                return s;
            }
            default: {
                Schema named = lookup(type, ns);
                if (named == null) throw new SchemaParseException("Undefined name: \"" + type + "\"");
                return named;
            }
        }
    }

    private Schema lookup(String name, String ns) {
        if (name.contains(".")) return names.get(name);
        Schema s = ns == null || ns.isEmpty() ? null : names.get(ns + "." + name);
        return s != null ? s : names.get(name);
    }

    private void naming(Schema s, Map<String, Object> o, String ns) {
        Object n = o.get("name");
        if (!(n instanceof String) || ((String) n).isEmpty()) throw new SchemaParseException("No name in schema: " + Json.write(o));
        String name = (String) n;
        Object nsv = o.get("namespace");
        String space = nsv instanceof String ? (String) nsv : ns;
        int dot = name.lastIndexOf('.');
        if (dot >= 0) {
            space = name.substring(0, dot);
            name = name.substring(dot + 1);
        }
        s.name = name;
        s.namespace = space == null || space.isEmpty() ? null : space;
        String full = s.fullName();
        if (names.containsKey(full)) throw new SchemaParseException("Can't redefine: " + full);
        names.put(full, s);
        if (o.get("doc") instanceof String) s.doc = (String) o.get("doc");
        List<Object> al = Json.asList(o.get("aliases"));
        if (al != null) for (Object a : al) s.aliases.add(String.valueOf(a));
    }

    private static void props(Schema s, Map<String, Object> o, Set<String> reserved) {
        for (Map.Entry<String, Object> e : o.entrySet()) if (!reserved.contains(e.getKey())) s.props.put(e.getKey(), e.getValue());
    }

    private Schema record(Map<String, Object> o, String ns) {
        Schema s = new Schema(Schema.Type.RECORD);
        naming(s, o, ns);
        List<Object> fs = Json.asList(o.get("fields"));
        if (fs == null) throw new SchemaParseException("Record has no fields: " + Json.write(o));
        for (Object fo : fs) {
            Map<String, Object> f = Json.asObject(fo);
            if (f == null || !(f.get("name") instanceof String)) throw new SchemaParseException("Bad field: " + Json.write(fo));
            if (!f.containsKey("type")) throw new SchemaParseException("No field type: " + Json.write(fo));
            String fname = (String) f.get("name");
            if (s.field(fname) != null) throw new SchemaParseException("Duplicate field " + fname + " in record " + s.fullName());
            Schema ft = parse(f.get("type"), s.namespace);
            Schema.Field field = new Schema.Field(fname, ft, f.containsKey("default"), f.get("default"));
            if (f.get("doc") instanceof String) field.doc = (String) f.get("doc");
            if (f.get("order") instanceof String) field.order = (String) f.get("order");
            List<Object> al = Json.asList(f.get("aliases"));
            if (al != null) for (Object a : al) field.aliases.add(String.valueOf(a));
            for (Map.Entry<String, Object> e : f.entrySet()) if (!FIELD_KEYS.contains(e.getKey())) field.props.put(e.getKey(), e.getValue());
            s.fields.add(field);
        }
        props(s, o, RECORD_KEYS);
        return s;
    }

    private Schema enumType(Map<String, Object> o, String ns) {
        Schema s = new Schema(Schema.Type.ENUM);
        naming(s, o, ns);
        List<Object> sy = Json.asList(o.get("symbols"));
        if (sy == null) throw new SchemaParseException("Enum has no symbols: " + Json.write(o));
        for (Object x : sy) s.symbols.add(String.valueOf(x));
        if (o.get("default") instanceof String) s.enumDefault = (String) o.get("default");
        props(s, o, ENUM_KEYS);
        return s;
    }

    private Schema fixed(Map<String, Object> o, String ns) {
        Schema s = new Schema(Schema.Type.FIXED);
        naming(s, o, ns);
        if (!(o.get("size") instanceof Long)) throw new SchemaParseException("Invalid or no size: " + Json.write(o));
        s.size = ((Long) o.get("size")).intValue();
        props(s, o, FIXED_KEYS);
        return s;
    }
}
