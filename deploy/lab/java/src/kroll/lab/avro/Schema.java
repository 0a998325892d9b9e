package kroll.lab.avro;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An Avro schema: the subset of the Avro model the lab needs (all types, props, defaults). */
public final class Schema {
    public enum Type {
        NULL, BOOLEAN, INT, LONG, FLOAT, DOUBLE, BYTES, STRING, RECORD, ENUM, ARRAY, MAP, UNION, FIXED;

        public String lower() { return name().toLowerCase(); }

        public boolean isNamed() { return this == RECORD || this == ENUM || this == FIXED; }

        public boolean isPrimitive() { return ordinal() <= STRING.ordinal(); }

        static Type primitive(String s) {
            switch (s) {
                case "null": return NULL;
                case "boolean": return BOOLEAN;
                case "int": return INT;
                case "long": return LONG;
                case "float": return FLOAT;
                case "double": return DOUBLE;
                case "bytes": return BYTES;
                case "string": return STRING;
                default: return null;
            }
        }
    }

    /** A record field. {@code defaultValue} is the JSON default (may be JSON null) when {@code hasDefault}. */
    public static final class Field {
        public final String name;
        public Schema schema;
        public final boolean hasDefault;
        public final Object defaultValue;
        public String doc;
        public String order;
        public final List<String> aliases = new ArrayList<>();
        public final Map<String, Object> props = new LinkedHashMap<>();

        public Field(String name, Schema schema, boolean hasDefault, Object defaultValue) {
            this.name = name;
            this.schema = schema;
            this.hasDefault = hasDefault;
            this.defaultValue = defaultValue;
        }
    }

    public final Type type;
    /** Short name and namespace for named types (namespace may be null). */
    public String name;
    public String namespace;
    public String doc;
    public final List<Field> fields = new ArrayList<>();
    public final List<String> symbols = new ArrayList<>();
    public String enumDefault;
    public Schema items;
    public Schema values;
    public final List<Schema> branches = new ArrayList<>();
    public int size;
    public final Map<String, Object> props = new LinkedHashMap<>();
    public final List<String> aliases = new ArrayList<>();

    public Schema(Type type) { this.type = type; }

    public String fullName() {
        if (!type.isNamed()) return type.lower();
        return namespace == null || namespace.isEmpty() ? name : namespace + "." + name;
    }

    public Field field(String n) {
        for (Field f : fields) if (f.name.equals(n)) return f;
        return null;
    }

    // ---- builders used by the lab's connectors ----

    public static Schema primitive(Type t) { return new Schema(t); }

    public static Schema record(String fullName) {
        Schema s = new Schema(Type.RECORD);
        int dot = fullName.lastIndexOf('.');
        s.name = dot < 0 ? fullName : fullName.substring(dot + 1);
        s.namespace = dot < 0 ? null : fullName.substring(0, dot);
        return s;
    }

    public static Schema union(Schema... bs) {
        Schema s = new Schema(Type.UNION);
        for (Schema b : bs) s.branches.add(b);
        return s;
    }

    public static Schema optional(Schema t) { return union(primitive(Type.NULL), t); }

    public Schema prop(String k, Object v) {
        props.put(k, v);
        return this;
    }

    public Schema add(String fieldName, Schema s) {
        fields.add(new Field(fieldName, s, false, null));
        return this;
    }

    public Schema addWithDefault(String fieldName, Schema s, Object def) {
        fields.add(new Field(fieldName, s, true, def));
        return this;
    }

    @Override
    public String toString() { return SchemaWriter.write(this); }
}
