package kroll.lab.avro;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Avro schema resolution compatibility: can data written with {@code writer} be read with
 * {@code reader}? Follows the Avro specification's resolution rules (field add/remove needs
 * reader defaults, int→long→float→double and string↔bytes promotions, unions by branch, named
 * types matched by their unqualified name or the reader's aliases, so a namespace-only change is
 * compatible). Problems are reported with Avro's incompatibility type names and JSON-pointer paths.
 */
public final class Compatibility {
    public static final class Problem {
        public final String type;
        public final String path;
        public final String description;
        public final String info;

        Problem(String type, String path, String description, String info) {
            this.type = type;
            this.path = path;
            this.description = description;
            this.info = info;
        }

        /** The shape Confluent's registry prints in its 409 / verbose compatibility messages. */
        @Override
        public String toString() {
            return "{errorType:'" + type + "', description:'" + description + "', additionalInfo:'" + info + "'}";
        }
    }

    private final List<Problem> problems = new ArrayList<>();
    private final Deque<String> path = new ArrayDeque<>();
    private final Map<Schema, Map<Schema, Boolean>> inProgress = new IdentityHashMap<>();

    private Compatibility() {}

    /** All incompatibilities found when {@code reader} reads data written with {@code writer}. */
    public static List<Problem> check(Schema reader, Schema writer) {
        Compatibility c = new Compatibility();
        c.compatible(reader, writer);
        return c.problems;
    }

    public static boolean canRead(Schema reader, Schema writer) { return check(reader, writer).isEmpty(); }

    private String where() {
        if (path.isEmpty()) return "/";
        StringBuilder b = new StringBuilder();
        var it = path.descendingIterator();
        while (it.hasNext()) b.append('/').append(it.next());
        return b.toString();
    }

    private void problem(String type, String description, String info) {
        problems.add(new Problem(type, where(), description, info));
    }

    private boolean compatible(Schema reader, Schema writer) {
        // cycle guard for recursive types: a pair already being checked is assumed compatible
        Map<Schema, Boolean> byWriter = inProgress.computeIfAbsent(reader, k -> new IdentityHashMap<>());
        if (byWriter.containsKey(writer)) return true;
        byWriter.put(writer, Boolean.TRUE);
        try {
            int before = problems.size();
            return doCheck(reader, writer) && problems.size() == before;
        } finally {
            byWriter.remove(writer);
        }
    }

    /** A check whose problems are not recorded: used to find a matching reader union branch. */
    private boolean quietly(Schema reader, Schema writer) {
        int before = problems.size();
        boolean ok = compatible(reader, writer);
        while (problems.size() > before) problems.remove(problems.size() - 1);
        return ok;
    }

    private boolean doCheck(Schema reader, Schema writer) {
        if (reader.type == writer.type) {
            switch (reader.type) {
                case NULL: case BOOLEAN: case INT: case LONG: case FLOAT: case DOUBLE: case BYTES: case STRING:
                    return true;
                case ARRAY:
                    path.push("items");
                    try { return compatible(reader.items, writer.items); } finally { path.pop(); }
                case MAP:
                    path.push("values");
                    try { return compatible(reader.values, writer.values); } finally { path.pop(); }
                case FIXED:
                    if (!names(reader, writer)) return false;
                    if (reader.size != writer.size) {
                        path.push("size");
                        problem("FIXED_SIZE_MISMATCH", "The size of FIXED type field at path '" + where()
                                + "' in the new schema does not match with the old schema",
                                "expected: " + writer.size + ", found: " + reader.size);
                        path.pop();
                        return false;
                    }
                    return true;
                case ENUM:
                    if (!names(reader, writer)) return false;
                    if (reader.enumDefault != null) return true;
                    List<String> missing = new ArrayList<>();
                    for (String sy : writer.symbols) if (!reader.symbols.contains(sy)) missing.add(sy);
                    if (!missing.isEmpty()) {
                        path.push("symbols");
                        problem("MISSING_ENUM_SYMBOLS", "The new schema is missing enum symbols '" + missing
                                + "' at path '" + where() + "' in the old schema", String.valueOf(missing));
                        path.pop();
                        return false;
                    }
                    return true;
                case RECORD:
                    if (!names(reader, writer)) return false;
                    return fields(reader, writer);
                case UNION: {
                    boolean ok = true;
                    for (int i = 0; i < writer.branches.size(); i++) {
                        path.push(String.valueOf(i));
                        try {
                            ok &= compatible(reader, writer.branches.get(i));
                        } finally {
                            path.pop();
                        }
                    }
                    return ok;
                }
                default: return false;
            }
        }
        if (writer.type == Schema.Type.UNION) {
            boolean ok = true;
            for (int i = 0; i < writer.branches.size(); i++) {
                path.push(String.valueOf(i));
                try {
                    ok &= compatible(reader, writer.branches.get(i));
                } finally {
                    path.pop();
                }
            }
            return ok;
        }
        switch (reader.type) {
            case LONG:
                if (writer.type == Schema.Type.INT) return true;
                break;
            case FLOAT:
                if (writer.type == Schema.Type.INT || writer.type == Schema.Type.LONG) return true;
                break;
            case DOUBLE:
                if (writer.type == Schema.Type.INT || writer.type == Schema.Type.LONG || writer.type == Schema.Type.FLOAT) return true;
                break;
            case BYTES:
                if (writer.type == Schema.Type.STRING) return true;
                break;
            case STRING:
                if (writer.type == Schema.Type.BYTES) return true;
                break;
            case UNION:
                for (Schema b : reader.branches) if (quietly(b, writer)) return true;
                problem("MISSING_UNION_BRANCH", "The new schema is missing a type inside a union field at path '"
                        + where() + "' in the old schema", "reader union lacking writer type: " + writer.type);
                return false;
            default:
                break;
        }
        problem("TYPE_MISMATCH", "The type (path '" + where() + "') of a field in the new schema does not match with the old schema",
                "reader type: " + reader.type + " not compatible with writer type: " + writer.type);
        return false;
    }

    private boolean names(Schema reader, Schema writer) {
        if (reader.name.equals(writer.name) || reader.aliases.contains(writer.fullName())) return true;
        path.push("name");
        problem("NAME_MISMATCH", "The name of the schema has changed (path '" + where() + "')",
                "expected: " + writer.fullName());
        path.pop();
        return false;
    }

    private boolean fields(Schema reader, Schema writer) {
        boolean ok = true;
        path.push("fields");
        try {
            for (int i = 0; i < reader.fields.size(); i++) {
                Schema.Field rf = reader.fields.get(i);
                Schema.Field wf = writer.field(rf.name);
                if (wf == null) for (String a : rf.aliases) if ((wf = writer.field(a)) != null) break;
                path.push(String.valueOf(i));
                try {
                    if (wf == null) {
                        if (!rf.hasDefault) {
                            problem("READER_FIELD_MISSING_DEFAULT_VALUE", "The field '" + rf.name + "' at path '" + where()
                                    + "' in the new schema has no default value and is missing in the old schema", rf.name);
                            ok = false;
                        }
                    } else {
                        path.push("type");
                        try {
                            ok &= compatible(rf.schema, wf.schema);
                        } finally {
                            path.pop();
                        }
                    }
                } finally {
                    path.pop();
                }
            }
        } finally {
            path.pop();
        }
        return ok;
    }
}
